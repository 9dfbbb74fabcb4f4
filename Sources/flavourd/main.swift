print("flavourd")
