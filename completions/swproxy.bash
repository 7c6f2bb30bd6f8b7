#!/bin/bash

__swproxy_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__swproxy_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__swproxy_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__swproxy_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_swproxy() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __swproxy_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    fetch|serve|cache|help)
        # Offer subcommand argument completions
        "_swproxy_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'fetch serve cache help' -- "${cur}"))
        ;;
    esac
}

_swproxy_fetch() {
    repeating_flags=(-O --remote-name --no-remote-name)
    non_repeating_flags=(-G --get -I --head --compressed -g --globoff --dry-run --remote-name-all --create-dirs -i --include -s --silent -S --show-error -v --verbose --trace-time -f --fail --fail-with-body --exit-summary --stream -N --no-buffer --progress-bar --no-progress-meter --skip-existing -L --location -Z --parallel --keep-bad --retry-all-errors --retry-connrefused -k --insecure -0 --http1.0 --http1.1 --http2 --http2-prior-knowledge --basic --digest --ntlm --negotiate --anyauth --proxy-basic --proxy-digest --proxy-ntlm --proxy-negotiate --proxy-anyauth -p --proxytunnel -4 --ipv4 -6 --ipv6 -n --netrc --netrc-optional --tr-encoding --post301 --post302 --post303 --http0.9 --location-trusted --raw --haproxy-protocol --path-as-is --suppress-connect-headers --proxy-insecure --ignore-content-length --disallow-username-in-url --remove-on-error -: --next --fail-early --form-escape --clobber --no-clobber -J --remote-header-name -j --junk-session-cookies --use-ascii --version -h --help)
    repeating_options=(-H --header -d --data --data-ascii --data-binary --data-raw --data-urlencode --json -T --upload-file -F --form -b --cookie --url --input-file -o --output --proxy-header --resolve --connect-to --form-string --url-query)
    non_repeating_options=(-X --request -A --user-agent -e --referer -u --user -c --cookie-jar -K --config --output-dir -C --continue-at --trace --trace-ascii --stderr --fail-on --report -w --write-out --max-redirs --parallel-max --parallel-max-host --segments --min-segment-size --checksum --rate --retry --retry-delay --retry-max-time --connect-timeout -m --max-time -x --proxy --noproxy --cacert --capath -U --proxy-user --proxy1.0 --socks4 --socks4a --socks5 --socks5-hostname --interface -r --range -z --time-cond --netrc-file --limit-rate -D --dump-header --request-target --max-filesize --hsts --alt-svc --unix-socket --preproxy --oauth2-bearer --etag-save --etag-compare --proto --proto-redir --proto-default --libcurl)
    __swproxy_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '-X'|'--request')
        return
        ;;
    '-H'|'--header')
        return
        ;;
    '-d'|'--data')
        return
        ;;
    '--data-ascii')
        return
        ;;
    '--data-binary')
        return
        ;;
    '--data-raw')
        return
        ;;
    '--data-urlencode')
        return
        ;;
    '--json')
        return
        ;;
    '-T'|'--upload-file')
        return
        ;;
    '-F'|'--form')
        return
        ;;
    '-A'|'--user-agent')
        return
        ;;
    '-e'|'--referer')
        return
        ;;
    '-u'|'--user')
        return
        ;;
    '-b'|'--cookie')
        return
        ;;
    '-c'|'--cookie-jar')
        return
        ;;
    '--url')
        return
        ;;
    '--input-file')
        return
        ;;
    '-K'|'--config')
        return
        ;;
    '-o'|'--output')
        return
        ;;
    '--output-dir')
        return
        ;;
    '-C'|'--continue-at')
        return
        ;;
    '--trace')
        return
        ;;
    '--trace-ascii')
        return
        ;;
    '--stderr')
        return
        ;;
    '--fail-on')
        return
        ;;
    '--report')
        return
        ;;
    '-w'|'--write-out')
        return
        ;;
    '--max-redirs')
        return
        ;;
    '--parallel-max')
        return
        ;;
    '--parallel-max-host')
        return
        ;;
    '--segments')
        return
        ;;
    '--min-segment-size')
        return
        ;;
    '--checksum')
        return
        ;;
    '--rate')
        return
        ;;
    '--retry')
        return
        ;;
    '--retry-delay')
        return
        ;;
    '--retry-max-time')
        return
        ;;
    '--connect-timeout')
        return
        ;;
    '-m'|'--max-time')
        return
        ;;
    '-x'|'--proxy')
        return
        ;;
    '--noproxy')
        return
        ;;
    '--cacert')
        return
        ;;
    '--capath')
        return
        ;;
    '-U'|'--proxy-user')
        return
        ;;
    '--proxy-header')
        return
        ;;
    '--proxy1.0')
        return
        ;;
    '--socks4')
        return
        ;;
    '--socks4a')
        return
        ;;
    '--socks5')
        return
        ;;
    '--socks5-hostname')
        return
        ;;
    '--resolve')
        return
        ;;
    '--connect-to')
        return
        ;;
    '--interface')
        return
        ;;
    '-r'|'--range')
        return
        ;;
    '-z'|'--time-cond')
        return
        ;;
    '--netrc-file')
        return
        ;;
    '--limit-rate')
        return
        ;;
    '-D'|'--dump-header')
        return
        ;;
    '--request-target')
        return
        ;;
    '--max-filesize')
        return
        ;;
    '--hsts')
        return
        ;;
    '--alt-svc')
        return
        ;;
    '--unix-socket')
        return
        ;;
    '--preproxy')
        return
        ;;
    '--oauth2-bearer')
        return
        ;;
    '--etag-save')
        return
        ;;
    '--etag-compare')
        return
        ;;
    '--proto')
        return
        ;;
    '--proto-redir')
        return
        ;;
    '--proto-default')
        return
        ;;
    '--libcurl')
        return
        ;;
    '--form-string')
        return
        ;;
    '--url-query')
        return
        ;;
    esac
}

_swproxy_serve() {
    repeating_flags=()
    non_repeating_flags=(--proxy-protocol --audit --tunnel-check-sni --tunnel-require-tls --block-private --quiet --no-via --no-forwarded-for --forward --preserve-host --no-upgrade --upstream-http2 --upstream-h2c --upstream-insecure --print-config --version -h --help)
    repeating_options=(--listen --listen-tls --allow --deny --auth --auth-file --allow-host --deny-host --allow-host-file --deny-host-file --connect-port --upstream-proxy --no-upstream-proxy-for)
    non_repeating_options=(--port --threads --tls-cert --tls-key --learn --max-connections --max-body-size --max-header-size --header-timeout --idle-timeout --connect-timeout --read-timeout --drain-timeout --access-log --log-format --metrics-listen --via-name --reverse --upstream-cacert --cache-dir --cache-size --cache-max-object --config)
    __swproxy_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--listen')
        return
        ;;
    '--port')
        return
        ;;
    '--threads')
        return
        ;;
    '--listen-tls')
        return
        ;;
    '--tls-cert')
        return
        ;;
    '--tls-key')
        return
        ;;
    '--allow')
        return
        ;;
    '--deny')
        return
        ;;
    '--auth')
        return
        ;;
    '--auth-file')
        return
        ;;
    '--allow-host')
        return
        ;;
    '--deny-host')
        return
        ;;
    '--allow-host-file')
        return
        ;;
    '--deny-host-file')
        return
        ;;
    '--learn')
        return
        ;;
    '--connect-port')
        return
        ;;
    '--max-connections')
        return
        ;;
    '--max-body-size')
        return
        ;;
    '--max-header-size')
        return
        ;;
    '--header-timeout')
        return
        ;;
    '--idle-timeout')
        return
        ;;
    '--connect-timeout')
        return
        ;;
    '--read-timeout')
        return
        ;;
    '--drain-timeout')
        return
        ;;
    '--access-log')
        return
        ;;
    '--log-format')
        __swproxy_add_completions -W 'combined'$'\n''common'$'\n''json'
        return
        ;;
    '--metrics-listen')
        return
        ;;
    '--via-name')
        return
        ;;
    '--upstream-proxy')
        return
        ;;
    '--no-upstream-proxy-for')
        return
        ;;
    '--reverse')
        return
        ;;
    '--upstream-cacert')
        return
        ;;
    '--cache-dir')
        return
        ;;
    '--cache-size')
        return
        ;;
    '--cache-max-object')
        return
        ;;
    '--config')
        return
        ;;
    esac
}

_swproxy_cache() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __swproxy_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    stats|purge)
        # Offer subcommand argument completions
        "_swproxy_cache_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'stats purge' -- "${cur}"))
        ;;
    esac
}

_swproxy_cache_stats() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--cache-dir)
    __swproxy_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--cache-dir')
        return
        ;;
    esac
}

_swproxy_cache_purge() {
    repeating_flags=()
    non_repeating_flags=(--all --version -h --help)
    repeating_options=()
    non_repeating_options=(--cache-dir)
    __swproxy_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--cache-dir')
        return
        ;;
    esac
}

_swproxy_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __swproxy_offer_flags_options -1
}

complete -o filenames -F _swproxy swproxy
