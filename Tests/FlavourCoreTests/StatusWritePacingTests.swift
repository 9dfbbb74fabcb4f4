import Testing
@testable import FlavourCore

@Suite struct StatusWritePacingTests {
    let ms: UInt64 = 1_000_000

    @Test func theFirstWriteComesAfterTheMinimumDelay() {
        let pacing = StatusWritePacing()
        #expect(pacing.writeTime(changedAt: 1_000 * ms) == 1_050 * ms)
    }

    @Test func aQuickWriteLeavesTheNextPrompt() {
        var pacing = StatusWritePacing()
        pacing.wrote(from: 1_000 * ms, to: 1_001 * ms)  // 1 ms: a few devices
        #expect(pacing.writeTime(changedAt: 1_001 * ms) == 1_051 * ms)
    }

    @Test func byDefaultAWriteOfTenMillisecondsIsFollowedByFourHundredMillisecondsWithout() {
        var pacing = StatusWritePacing()
        pacing.wrote(from: 1_000 * ms, to: 1_010 * ms)
        #expect(pacing.writeTime(changedAt: 1_010 * ms) == 1_400 * ms)
    }

    @Test func aSlowWriteDelaysTheNextByShareTimesItsDuration() {
        var pacing = StatusWritePacing(minimumDelay: 50 * ms, share: 9)
        pacing.wrote(from: 1_000 * ms, to: 1_030 * ms)  // 30 ms: a thousand devices under TCG
        // 9 x 30 ms after the write ended, not 50 ms after the change.
        #expect(pacing.writeTime(changedAt: 1_030 * ms) == 1_300 * ms)
        #expect(pacing.writeTime(changedAt: 1_200 * ms) == 1_300 * ms)
        // Long after the last write, a change waits only the minimum.
        #expect(pacing.writeTime(changedAt: 2_000 * ms) == 2_050 * ms)
    }

    @Test func writesTakeABoundedShareHoweverLongEachTakes() {
        // Changes all the time, each write taking `duration`: busy at most 1/(share+1) of the time.
        for duration in [1 * ms, 10 * ms, 100 * ms, 1_000 * ms] {
            var pacing = StatusWritePacing()
            var now: UInt64 = 0, busy: UInt64 = 0
            for _ in 0..<100 {
                let start = pacing.writeTime(changedAt: now)
                pacing.wrote(from: start, to: start + duration)
                busy += duration
                now = start + duration
            }
            #expect(busy * (StatusWritePacing.defaultShare + 1) <= now + duration * StatusWritePacing.defaultShare)
        }
    }
}
