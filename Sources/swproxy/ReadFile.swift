import SwproxyLoop

/// Reads a whole text file (`-` for standard input), for config files.
func readTextFile(_ path: String) throws -> String {
    String(decoding: try Socket.readWholeFile(path), as: UTF8.self)
}
