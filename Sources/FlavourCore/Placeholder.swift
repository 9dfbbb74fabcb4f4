public enum FlavourCorePlaceholder {}
