@testable import SwproxyServe
import XCTest

final class PasswordHashTests: XCTestCase {
    func testConstantTimeEqualComparesLengthsWhole() {
        let secret = Array("s3cret".utf8)
        XCTAssertTrue(PasswordHash.constantTimeEqual(secret, secret))
        XCTAssertFalse(PasswordHash.constantTimeEqual(secret, Array("s3creT".utf8)))
        XCTAssertFalse(PasswordHash.constantTimeEqual(secret, Array("s3cre".utf8)))
        XCTAssertFalse(PasswordHash.constantTimeEqual([], secret))
        // The right password followed by NUL bytes whose count differs by a multiple of 256.
        XCTAssertFalse(PasswordHash.constantTimeEqual(secret + [UInt8](repeating: 0, count: 256), secret))
        XCTAssertFalse(PasswordHash.constantTimeEqual(secret + [UInt8](repeating: 0, count: 512), secret))
    }

    func testShaCryptHashesVerify() {
        // openssl passwd -6 -salt saltsalt secret
        let hash = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
        XCTAssertTrue(PasswordHash.verify("secret", against: hash))
        XCTAssertFalse(PasswordHash.verify("Secret", against: hash))
        // C strings end at NUL: "secret\0anything" must not pass as "secret".
        XCTAssertFalse(PasswordHash.verify("secret\u{0}anything", against: hash))
    }
}
