/// swproxy's own version, shown by `--version` and sent in the default `User-Agent` and `Via`.
public enum ProductVersion {
    public static let string = "0.1.0"
}
