# bash completion for wsgather(1)
#
# Installed as share/bash-completion/completions/wsgather, where
# bash-completion loads it on first use; or source it from ~/.bashrc.
# It needs nothing from bash-completion, but uses its _filedir when loaded.
#
# The option lists below follow `wsgather --help`;
# tests/integration/test_docs.py fails when they drift apart.

_wsgather()
{
    local cur prev i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # bash splits "--format=ra" at '=' (COMP_WORDBREAKS): the words are
    # "--format" "=" "ra", and with the cursor right after '=' the current
    # word is "=" itself. Either way the option is the word before the '='.
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    COMPREPLY=()
    case $prev in
        --output-per-feed)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return
            ;;
        -c | --config | --ca-file | --cert | --key | -o | --output)
            if declare -F _filedir >/dev/null; then
                _filedir
            else
                compopt -o filenames 2>/dev/null
                mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            fi
            return
            ;;
        --format)
            mapfile -t COMPREPLY < <(compgen -W 'jsonl raw' -- "$cur")
            return
            ;;
        --overflow)
            mapfile -t COMPREPLY < <(compgen -W 'block drop-oldest drop-newest' -- "$cur")
            return
            ;;
        --coalesce)
            mapfile -t COMPREPLY < <(compgen -W 'auto' -- "$cur")
            return
            ;;
        --proxy)
            mapfile -t COMPREPLY < <(compgen -W 'direct' -- "$cur")
            return
            ;;
        # Values that cannot be guessed: offer nothing, rather than options.
        -H | --header | --secret-header | --subprotocol | -s | --send | \
            --heartbeat | --heartbeat-interval | --connect-timeout | \
            --ping-interval | --ping-timeout | --max-message-size | \
            --backoff-min | --backoff-max | --max-retries | --buffer | --rotate-size | --rotate-interval | \
            -n | --count | -t | --duration | --threads | --stats)
            return
            ;;
    esac

    # After "--" every argument is a URL.
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -- ]] && return
    done

    if [[ $cur == -* ]]; then
        local opts='
            -h --help
            -c --config
            --check
            -H --header
            --secret-header
            --subprotocol
            -s --send
            --heartbeat
            --heartbeat-interval
            --connect-timeout
            --ping-interval
            --ping-timeout
            --max-message-size
            --compress
            --coalesce
            --backoff-min
            --backoff-max
            --max-retries
            --no-reconnect
            --ca-file
            --cert
            --key
            -k --insecure
            --proxy
            --format
            -o --output
            --output-per-feed
            --rotate-size
            --rotate-interval
            --rotate-compress
            --buffer
            --overflow
            --events
            -n --count
            -t --duration
            --threads
            --stats
            -q --quiet
            -v --verbose
            -V --version
        '
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    fi
} &&
    complete -F _wsgather wsgather
