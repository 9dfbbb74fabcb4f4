import Testing
@testable import FlavourCore

@Suite struct HeapTrimRuleTests {
    /// `trimNow`'s answers for each (inFlight, queued) in turn.
    func answers(_ rule: inout HeapTrimRule, _ states: [(Int, Int)]) -> [Bool] {
        states.map { rule.trimNow(inFlight: $0.0, queued: $0.1) }
    }

    @Test func trimsOnceWhenIdleAfterABurst() {
        var rule = HeapTrimRule(burst: 64)
        for _ in 0..<64 { rule.outcome() }
        // Busy, still waiting, idle (trim), idle again (once per burst).
        #expect(answers(&rule, [(1, 0), (0, 3), (0, 0), (0, 0)]) == [false, false, true, false])
    }

    @Test func aFewRequestsDoNotTrim() {
        var rule = HeapTrimRule(burst: 64)
        for _ in 0..<63 { rule.outcome() }
        #expect(answers(&rule, [(0, 0)]) == [false])
        rule.outcome()
        #expect(answers(&rule, [(0, 0)]) == [true])
    }

    @Test func aReloadsTrimStartsTheCountAgain() {
        var rule = HeapTrimRule(burst: 64)
        for _ in 0..<100 { rule.outcome() }
        rule.trimmed()
        #expect(answers(&rule, [(0, 0)]) == [false])
    }
}
