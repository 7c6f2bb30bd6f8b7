function __swproxy_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __swproxy_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __swproxy_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __swproxy_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __swproxy_parse_tokens -S
    set -l unparsed_tokens (__swproxy_tokens -pc)
    switch $unparsed_tokens[1]
    case 'swproxy'
        __swproxy_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'fetch'
            __swproxy_parse_subcommand -r 1 'X/request=' 'H/header=+' 'd/data=+' 'data-ascii=+' 'data-binary=+' 'data-raw=+' 'data-urlencode=+' 'json=+' 'G/get' 'T/upload-file=+' 'F/form=+' 'A/user-agent=' 'e/referer=' 'u/user=' 'b/cookie=+' 'c/cookie-jar=' 'I/head' 'compressed' 'url=+' 'input-file=+' 'g/globoff' 'dry-run' 'K/config=' 'o/output=+' 'O/remote-name' 'no-remote-name' 'remote-name-all' 'output-dir=' 'create-dirs' 'C/continue-at=' 'i/include' 's/silent' 'S/show-error' 'v/verbose' 'trace=' 'trace-ascii=' 'trace-time' 'stderr=' 'f/fail' 'fail-with-body' 'fail-on=' 'exit-summary' 'report=' 'stream' 'N/no-buffer' 'progress-bar' 'no-progress-meter' 'skip-existing' 'w/write-out=' 'L/location' 'max-redirs=' 'Z/parallel' 'parallel-max=' 'parallel-max-host=' 'segments=' 'min-segment-size=' 'checksum=' 'keep-bad' 'rate=' 'retry=' 'retry-delay=' 'retry-max-time=' 'retry-all-errors' 'retry-connrefused' 'connect-timeout=' 'm/max-time=' 'x/proxy=' 'noproxy=' 'k/insecure' 'cacert=' 'capath=' '0/http1.0' 'http1.1' 'http2' 'http2-prior-knowledge' 'basic' 'digest' 'ntlm' 'negotiate' 'anyauth' 'U/proxy-user=' 'proxy-basic' 'proxy-digest' 'proxy-ntlm' 'proxy-negotiate' 'proxy-anyauth' 'p/proxytunnel' 'proxy-header=+' 'proxy1.0=' 'socks4=' 'socks4a=' 'socks5=' 'socks5-hostname=' 'resolve=+' 'connect-to=+' 'interface=' '4/ipv4' '6/ipv6' 'r/range=' 'z/time-cond=' 'n/netrc' 'netrc-optional' 'netrc-file=' 'tr-encoding' 'post301' 'post302' 'post303' 'http0.9' 'limit-rate=' 'D/dump-header=' 'location-trusted' 'request-target=' 'raw' 'max-filesize=' 'hsts=' 'alt-svc=' 'haproxy-protocol' 'unix-socket=' 'path-as-is' 'suppress-connect-headers' 'proxy-insecure' 'preproxy=' 'oauth2-bearer=' 'ignore-content-length' 'disallow-username-in-url' 'etag-save=' 'etag-compare=' 'remove-on-error' 'proto=' 'proto-redir=' 'proto-default=' ':/next' 'fail-early' 'libcurl=' 'form-string=+' 'form-escape' 'clobber' 'no-clobber' 'J/remote-header-name' 'j/junk-session-cookies' 'use-ascii' 'url-query=+' 'version' 'h/help'
        case 'serve'
            __swproxy_parse_subcommand 0 'listen=+' 'port=' 'threads=' 'listen-tls=+' 'tls-cert=' 'tls-key=' 'proxy-protocol' 'allow=+' 'deny=+' 'auth=+' 'auth-file=+' 'allow-host=+' 'deny-host=+' 'allow-host-file=+' 'deny-host-file=+' 'learn=' 'audit' 'tunnel-check-sni' 'tunnel-require-tls' 'block-private' 'connect-port=+' 'max-connections=' 'max-body-size=' 'max-header-size=' 'header-timeout=' 'idle-timeout=' 'connect-timeout=' 'read-timeout=' 'drain-timeout=' 'access-log=' 'quiet' 'log-format=' 'metrics-listen=' 'no-via' 'via-name=' 'no-forwarded-for' 'upstream-proxy=+' 'no-upstream-proxy-for=+' 'reverse=' 'forward' 'preserve-host' 'no-upgrade' 'upstream-http2' 'upstream-h2c' 'upstream-cacert=' 'upstream-insecure' 'cache-dir=' 'cache-size=' 'cache-max-object=' 'config=' 'print-config' 'version' 'h/help'
        case 'cache'
            __swproxy_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'stats'
                __swproxy_parse_subcommand 0 'cache-dir=' 'version' 'h/help'
            case 'purge'
                __swproxy_parse_subcommand -r 1 'cache-dir=' 'all' 'version' 'h/help'
            end
        case 'help'
            __swproxy_parse_subcommand -r 1 'version'
        end
    end
end

function __swproxy_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __swproxy_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __swproxy_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __swproxy_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__swproxy_tokens -p)
    if test -z "$(__swproxy_tokens -t)"
        set -l index (count (__swproxy_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'swproxy' -f
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy" -eq 1' -fa 'fetch' -d 'Fetch URLs concurrently, curl-compatible.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy" -eq 1' -fa 'serve' -d 'Run a forward HTTP proxy (absolute-form requests and CONNECT tunnels).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy" -eq 1' -fa 'cache' -d 'Look at or empty the store of `swproxy serve --cache-dir`.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" X request' -s 'X' -l 'request' -d 'Request method to use.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'H' -l 'header' -d 'Extra header (\'Name: value\'; \'Name:\' removes, \'Name;\' sends empty; @file).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'd' -l 'data' -d 'HTTP POST data (@file reads a file, newlines removed).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'data-ascii' -d 'Same as --data.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'data-binary' -d 'HTTP POST data, @file sent as is.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'data-raw' -d 'HTTP POST data, \'@\' has no special meaning.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'data-urlencode' -d 'HTTP POST data, URL-encoded (content, =content, name=content, @file, name@file).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'json' -d 'HTTP POST JSON data, with JSON Content-Type and Accept headers.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" G get' -s 'G' -l 'get' -d 'Put the post data in the URL and use GET.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'T' -l 'upload-file' -d 'Upload a local file with PUT (\'-\' for stdin).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'F' -l 'form' -d 'Multipart form field: name=value, name=@file, name=<file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" A user-agent' -s 'A' -l 'user-agent' -d 'User-Agent to send.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" e referer' -s 'e' -l 'referer' -d 'Referer URL (\';auto\' follows redirects).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" u user' -s 'u' -l 'user' -d 'Server user and password.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'b' -l 'cookie' -d 'Send cookies from a string (\'a=b; c=d\') or a file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" c cookie-jar' -s 'c' -l 'cookie-jar' -d 'Write cookies to this file after the transfers.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" I head' -s 'I' -l 'head' -d 'Show document info only (HEAD).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" compressed' -l 'compressed' -d 'Request a compressed response and decode it.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'url' -d 'URL to fetch (as a positional argument).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'input-file' -d 'Read URLs from a file, one per line (\'-\' for stdin; \'#\' comments).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" g globoff' -s 'g' -l 'globoff' -d 'Turn off URL globbing ([] and {}).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" dry-run' -l 'dry-run' -d 'Print each planned request (method, URL, headers, body size, output) and send nothing.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" K config' -s 'K' -l 'config' -d 'Read options from a file, in curl\'s config syntax.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'o' -l 'output' -d 'Write to file instead of stdout; pairs with URLs in order (\'#1\' for globs).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -s 'O' -l 'remote-name' -d 'Write output to a file named as the remote file.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'no-remote-name' -d 'Write this URL to stdout after all (undoes --remote-name-all for it).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" remote-name-all' -l 'remote-name-all' -d 'Use the remote file name for every URL.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" output-dir' -l 'output-dir' -d 'Directory to save files in.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" create-dirs' -l 'create-dirs' -d 'Create the directories -o and -O need.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" C continue-at' -s 'C' -l 'continue-at' -d 'Resume at this byte offset (\'-\' to use the output file\'s size).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" i include' -s 'i' -l 'include' -d 'Include response headers in the output.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" s silent' -s 's' -l 'silent' -d 'Silent mode: no error messages.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" S show-error' -s 'S' -l 'show-error' -d 'Show error messages even when silent.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" v verbose' -s 'v' -l 'verbose' -d 'Show request and response headers on stderr.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" trace' -l 'trace' -d 'Write a full trace (hex and ASCII) of all sent and received data to FILE (\'-\' stdout).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" trace-ascii' -l 'trace-ascii' -d 'Like --trace, without the hex: ASCII only, a line per CRLF.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" trace-time' -l 'trace-time' -d 'Start each --trace and -v line with the time of day.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" stderr' -l 'stderr' -d 'Write what would go to stderr to this file instead (\'-\' stdout).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" f fail' -s 'f' -l 'fail' -d 'Fail on HTTP errors (exit 22), without the body.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" fail-with-body' -l 'fail-with-body' -d 'Fail on HTTP errors (exit 22), keeping the body.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" fail-on' -l 'fail-on' -d 'HTTP statuses that count as failures (exit 22), e.g. 4xx,5xx,!404 or 500-599,429.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" exit-summary' -l 'exit-summary' -d 'Exit 0 when every URL succeeded, 1 when some failed (2 for usage errors), instead of curl\'s code.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" report' -l 'report' -d 'Write one JSON object per URL and a summary to this file (\'-\': stdout).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" stream' -l 'stream' -d 'Write the body as it arrives (one URL to stdout).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" N no-buffer' -s 'N' -l 'no-buffer' -d 'Same as --stream, as curl\'s -N.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" progress-bar' -l 'progress-bar' -d 'Show curl\'s single progress bar (-#) instead of the per-transfer display.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" no-progress-meter' -l 'no-progress-meter' -d 'Show no progress display.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" skip-existing' -l 'skip-existing' -d 'Skip URLs whose output file exists already.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" w write-out' -s 'w' -l 'write-out' -d 'Text to write after each transfer, with %{variables} (@file reads it).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" L location' -s 'L' -l 'location' -d 'Follow redirects.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" max-redirs' -l 'max-redirs' -d 'Maximum number of redirects (-1: no limit).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" Z parallel' -s 'Z' -l 'parallel' -d 'Accepted for curl compatibility: transfers run in parallel wherever their order does not matter.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" parallel-max' -l 'parallel-max' -d 'Maximum concurrent transfers.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" parallel-max-host' -l 'parallel-max-host' -d 'Maximum concurrent transfers to one host.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" segments' -l 'segments' -d 'Fetch the body over up to this many range transfers at once (1-16), into a file that can be continued (FILE.swproxy-part).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" min-segment-size' -l 'min-segment-size' -d 'No segment smaller than this (suffixes k, m, g; default 4M).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" checksum' -l 'checksum' -d 'The body\'s digest, checked while it is written: sha256=HEX, sha512=, sha1=, md5= (exit 110 when it differs).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" keep-bad' -l 'keep-bad' -d 'Keep a file whose --checksum is wrong (it is removed otherwise).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" rate' -l 'rate' -d 'Start at most this many transfers per time unit: N/s, N/m, N/h (or N, per hour).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" retry' -l 'retry' -d 'Retry transient failures this many times.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" retry-delay' -l 'retry-delay' -d 'Wait this long between retries (default: doubling from 1 s).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" retry-max-time' -l 'retry-max-time' -d 'Retry only within this period.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" retry-all-errors' -l 'retry-all-errors' -d 'Retry on any error.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" retry-connrefused' -l 'retry-connrefused' -d 'Retry on connection refused as well.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" connect-timeout' -l 'connect-timeout' -d 'Maximum time allowed to connect.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" m max-time' -s 'm' -l 'max-time' -d 'Maximum time allowed for each transfer.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy x' -s 'x' -l 'proxy' -d 'Use this proxy (http, https, socks5, socks5h URLs).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" noproxy' -l 'noproxy' -d 'Hosts that bypass the proxy (comma-separated, \'*\' for all).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" insecure k' -s 'k' -l 'insecure' -d 'Do not verify TLS certificates.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" cacert' -l 'cacert' -d 'CA bundle to verify peers with.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" capath' -l 'capath' -d 'CA directory to verify peers with.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" 0 http1.0' -s '0' -l 'http1.0' -d 'Use HTTP/1.0.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" http1.1' -l 'http1.1' -d 'Use HTTP/1.1.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" http2' -l 'http2' -d 'Use HTTP/2 where the server agrees.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" http2-prior-knowledge' -l 'http2-prior-knowledge' -d 'Use HTTP/2 without HTTP/1.1 Upgrade.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" basic' -l 'basic' -d 'Use HTTP Basic authentication (the default).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" digest' -l 'digest' -d 'Use HTTP Digest authentication.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" ntlm' -l 'ntlm' -d 'Use HTTP NTLM authentication.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" negotiate' -l 'negotiate' -d 'Use HTTP Negotiate (SPNEGO) authentication.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" anyauth' -l 'anyauth' -d 'Pick the safest authentication method the server offers.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" U proxy-user' -s 'U' -l 'proxy-user' -d 'Proxy user and password.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-basic' -l 'proxy-basic' -d 'Use Basic authentication with the proxy.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-digest' -l 'proxy-digest' -d 'Use Digest authentication with the proxy.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-ntlm' -l 'proxy-ntlm' -d 'Use NTLM authentication with the proxy.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-negotiate' -l 'proxy-negotiate' -d 'Use Negotiate authentication with the proxy.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-anyauth' -l 'proxy-anyauth' -d 'Pick any authentication method the proxy offers.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" p proxytunnel' -s 'p' -l 'proxytunnel' -d 'Tunnel through the HTTP proxy with CONNECT.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'proxy-header' -d 'Extra header for the proxy only (repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy1.0' -l 'proxy1.0' -d 'Use this HTTP proxy, speaking HTTP/1.0 to it.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" socks4' -l 'socks4' -d 'Use this SOCKS4 proxy.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" socks4a' -l 'socks4a' -d 'Use this SOCKS4a proxy.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" socks5' -l 'socks5' -d 'Use this SOCKS5 proxy (names resolved locally).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" socks5-hostname' -l 'socks5-hostname' -d 'Use this SOCKS5 proxy (names resolved by the proxy).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'resolve' -d 'Resolve HOST:PORT to ADDR (repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'connect-to' -d 'Connect to HOST2:PORT2 for requests to HOST1:PORT1 (repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" interface' -l 'interface' -d 'Use this interface, address or host name for outgoing connections.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" 4 ipv4' -s '4' -l 'ipv4' -d 'Resolve names to IPv4 addresses only.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" 6 ipv6' -s '6' -l 'ipv6' -d 'Resolve names to IPv6 addresses only.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" r range' -s 'r' -l 'range' -d 'Byte range(s) to ask for (e.g. 0-499, 500-, -500, 0-1,5-9).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" time-cond z' -s 'z' -l 'time-cond' -d 'Only if modified since this date or file\'s time (\'-\' before: unmodified since).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" n netrc' -s 'n' -l 'netrc' -d 'Take credentials from ~/.netrc (required).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" netrc-optional' -l 'netrc-optional' -d 'Take credentials from ~/.netrc if it has them.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" netrc-file' -l 'netrc-file' -d 'Take credentials from this netrc file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" tr-encoding' -l 'tr-encoding' -d 'Ask for a compressed Transfer-Encoding and decode it.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" post301' -l 'post301' -d 'Keep POST after a 301 redirect.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" post302' -l 'post302' -d 'Keep POST after a 302 redirect.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" post303' -l 'post303' -d 'Keep POST after a 303 redirect.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" http0.9' -l 'http0.9' -d 'Accept HTTP/0.9 responses.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" limit-rate' -l 'limit-rate' -d 'Most bytes per second each way (suffixes k, m, g).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" D dump-header' -s 'D' -l 'dump-header' -d 'Write the received headers to this file (\'-\' stdout).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" location-trusted' -l 'location-trusted' -d 'Like -L, and send credentials to other hosts too.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" request-target' -l 'request-target' -d 'Send this request target instead of the URL\'s path.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" raw' -l 'raw' -d 'Pass content and transfer encodings through undecoded.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" max-filesize' -l 'max-filesize' -d 'Refuse a body larger than this (exit 63; suffixes k, m, g).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" hsts' -l 'hsts' -d 'Keep HSTS state in this file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" alt-svc' -l 'alt-svc' -d 'Keep Alt-Svc state in this file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" haproxy-protocol' -l 'haproxy-protocol' -d 'Send a HAProxy PROXY v1 header first.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" unix-socket' -l 'unix-socket' -d 'Connect through this Unix domain socket.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" path-as-is' -l 'path-as-is' -d 'Do not squash /../ and /./ in the URL path.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" suppress-connect-headers' -l 'suppress-connect-headers' -d 'Leave the proxy\'s CONNECT response out of -i output.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proxy-insecure' -l 'proxy-insecure' -d 'Do not verify the HTTPS proxy\'s certificate.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" preproxy' -l 'preproxy' -d 'A SOCKS proxy to reach the proxy through.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" oauth2-bearer' -l 'oauth2-bearer' -d 'OAuth 2 bearer token.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" ignore-content-length' -l 'ignore-content-length' -d 'Ignore the Content-Length of responses.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" disallow-username-in-url' -l 'disallow-username-in-url' -d 'Refuse URLs that carry a user name.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" etag-save' -l 'etag-save' -d 'Write the response\'s ETag to this file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" etag-compare' -l 'etag-compare' -d 'Ask for the body only if its ETag differs from the one in this file (If-None-Match).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" remove-on-error' -l 'remove-on-error' -d 'Remove the output file of a URL that fails.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proto' -l 'proto' -d 'Allow only these protocols (curl\'s syntax: =http,https  -ftp  +file  all).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proto-redir' -l 'proto-redir' -d 'Allow only these protocols in redirects (as --proto; default http,https,ftp,ftps).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" proto-default' -l 'proto-default' -d 'The protocol of URLs given without a scheme (default http).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" : next' -s ':' -l 'next' -d 'Start the next step: the URLs after it get their own options, and run once the step before has finished.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" fail-early' -l 'fail-early' -d 'Stop at the first URL that fails (exit with its code).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" libcurl' -l 'libcurl' -d 'Write C source that does the same transfer with libcurl to this file.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'form-string' -d 'Multipart form field whose value is taken literally (no @, < or ;type=).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" form-escape' -l 'form-escape' -d 'Escape \'\\\' and \'"\' in form field and file names with a backslash.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" clobber' -l 'clobber' -d 'Overwrite existing output files (the default).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" no-clobber' -l 'no-clobber' -d 'Never overwrite an output file: write FILE.1, FILE.2 … instead.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" J remote-header-name' -s 'J' -l 'remote-header-name' -d 'With -O: name the file as the response\'s Content-Disposition says (never overwriting a file).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" j junk-session-cookies' -s 'j' -l 'junk-session-cookies' -d 'Drop session cookies read from files.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" use-ascii' -l 'use-ascii' -d 'Transfer in ASCII mode (FTP, including FTP over an HTTP proxy).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch"' -l 'url-query' -d 'Add this to the URL\'s query, in --data-urlencode\'s syntax (\'+\' first: as is).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy fetch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'listen' -d 'Address to listen on, repeatable (IPv6 as [::1]:8080).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" port' -l 'port' -d 'Same as --listen 127.0.0.1:PORT.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" threads' -l 'threads' -d 'Event loops, one per thread (default: the number of cores).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'listen-tls' -d 'Address for clients that speak TLS to the proxy (an https:// proxy), repeatable; needs --tls-cert and --tls-key.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" tls-cert' -l 'tls-cert' -d 'Certificate chain (PEM) for --listen-tls; SIGHUP reloads it.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" tls-key' -l 'tls-key' -d 'Private key (PEM) for --tls-cert.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" proxy-protocol' -l 'proxy-protocol' -d 'Expect a HAProxy PROXY header (v1 or v2) on every connection; its client address is the one used.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'allow' -d 'Clients allowed to connect (CIDR, repeatable; default: all, loopback listen only).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'deny' -d 'Clients refused (CIDR, repeatable; wins over --allow).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'auth' -d 'Require proxy credentials USER:PASS (repeatable; answers 407 without them).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'auth-file' -d 'htpasswd file with bcrypt ($2y$) or sha-crypt ($5$/$6$) hashes.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'allow-host' -d 'Destinations allowed (example.com, *.example.com, host:port, *:443, an IP or CIDR; repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'deny-host' -d 'Destinations refused (wins over the allow rules; repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'allow-host-file' -d 'Allow rules from a file, one a line, # comments (repeatable; SIGHUP reloads).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'deny-host-file' -d 'Deny rules from a file (repeatable; SIGHUP reloads).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" learn' -l 'learn' -d 'Enforce no host rules; write every destination forwarded to this file, as an allow-list.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" audit' -l 'audit' -d 'Evaluate host rules and log what they would refuse (would-deny), without refusing.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" tunnel-check-sni' -l 'tunnel-check-sni' -d 'Check a tunnel\'s TLS server name against its CONNECT host (on whenever host rules are set).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" tunnel-require-tls' -l 'tunnel-require-tls' -d 'Close tunnels whose first bytes are not a TLS ClientHello (implies --tunnel-check-sni).'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" block-private' -l 'block-private' -d 'Refuse destinations that resolve to loopback, private, link-local, CGNAT, multicast or unspecified addresses.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'connect-port' -d 'Port CONNECT may reach, repeatable (default: 443).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" max-connections' -l 'max-connections' -d 'Client connections open at once; more wait in the backlog.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" max-body-size' -l 'max-body-size' -d 'Largest request body in bytes (default: no limit).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" max-header-size' -l 'max-header-size' -d 'Largest request header section in bytes.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" header-timeout' -l 'header-timeout' -d 'Time a client has to send a whole request head.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" idle-timeout' -l 'idle-timeout' -d 'Keep-alive and tunnel idle time.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" connect-timeout' -l 'connect-timeout' -d 'Time to connect upstream.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" read-timeout' -l 'read-timeout' -d 'Upstream inactivity before 504 (or closing).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" drain-timeout' -l 'drain-timeout' -d 'Time in-flight requests get on shutdown.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" access-log' -l 'access-log' -d 'Access log file (default: stderr).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" quiet' -l 'quiet' -d 'No access log.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" log-format' -l 'log-format' -d 'combined, common or json.' -rfka 'combined common json'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" metrics-listen' -l 'metrics-listen' -d 'Serve /metrics (Prometheus) and /healthz here (a bare port means 127.0.0.1).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" no-via' -l 'no-via' -d 'Do not add Via.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" via-name' -l 'via-name' -d 'This proxy\'s name in Via and for loop detection (default: HOST:PORT, the host name and first listener\'s port).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" no-forwarded-for' -l 'no-forwarded-for' -d 'Do not append the client address to X-Forwarded-For.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'upstream-proxy' -d 'Chain through this proxy (http://, https://, socks5://, socks5h://; user:pass@ allowed); repeatable: the next is used while one is down.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve"' -l 'no-upstream-proxy-for' -d 'Hosts that go direct, not through --upstream-proxy (example.com, *.example.com; repeatable).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" reverse' -l 'reverse' -d 'Reverse proxy: forward origin-form requests to this base URL.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" forward' -l 'forward' -d 'With --reverse, also proxy absolute-form and CONNECT requests.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" preserve-host' -l 'preserve-host' -d 'With --reverse, send the client\'s Host to the backend.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" no-upgrade' -l 'no-upgrade' -d 'Refuse protocol upgrades (WebSocket): Upgrade is stripped.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" upstream-http2' -l 'upstream-http2' -d 'Offer HTTP/2 to https:// upstreams (ALPN), multiplexed.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" upstream-h2c' -l 'upstream-h2c' -d 'HTTP/2 with prior knowledge to upstreams, cleartext too.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" upstream-cacert' -l 'upstream-cacert' -d 'CA bundle for upstream TLS.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" upstream-insecure' -l 'upstream-insecure' -d 'Do not verify upstream TLS certificates.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" cache-dir' -l 'cache-dir' -d 'Cache GET responses here (a shared HTTP cache, RFC 9111); created if missing.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" cache-size' -l 'cache-size' -d 'Most the cache stores on disk (default 10G).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" cache-max-object' -l 'cache-max-object' -d 'Largest response body the cache stores (default 2G).' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" config' -l 'config' -d 'Read options from a file (curl\'s config syntax: \'name = value\' per line); the command line wins; SIGHUP reloads it.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" print-config' -l 'print-config' -d 'Print a documented example configuration file and exit.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy cache" -eq 1' -fa 'stats' -d 'Entries and bytes in the store.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_positional "swproxy cache" -eq 1' -fa 'purge' -d 'Remove the stored responses of URLs (every variant), or all of them.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache stats" cache-dir' -l 'cache-dir' -d 'The cache\'s directory.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache stats" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache purge" cache-dir' -l 'cache-dir' -d 'The cache\'s directory.' -rfka ''
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache purge" all' -l 'all' -d 'Remove every entry.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache purge" version' -l 'version' -d 'Show the version.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy cache purge" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'swproxy' -n '__swproxy_should_offer_completions_for_flags_or_options "swproxy help" version' -l 'version' -d 'Show the version.'
