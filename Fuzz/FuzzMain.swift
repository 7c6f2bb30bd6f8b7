// libFuzzer harness: compiled by `make fuzz` with -sanitize=fuzzer together with SwproxyHTTP's sources
// (-parse-as-library: libFuzzer supplies main). The oracle itself is SwproxyHTTP's FuzzEntry, which the
// corpus replay test also runs in a plain build.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzEntry.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
