//! What Python's supervisorctl lacks, all opt-in so scripts keep seeing Python's bytes:
//! `status --json`, coloured states on a terminal, and `completion bash|zsh|fish`.

use std::io::IsTerminal as _;

use super::{exit, Controller};
use crate::rpc::Value;

/// Colour only on a terminal, and only when neither `--no-color` nor `NO_COLOR` (any non-empty
/// value, see no-color.org) says otherwise.
pub(super) fn color_wanted(no_color: bool) -> bool {
    !no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

/// The state padded to `width` columns, its word coloured when `color` is on.
pub(super) fn paint_state(color: bool, state: &str, width: usize) -> String {
    let padded = format!("{state:<width$}");
    if !color {
        return padded;
    }
    let sgr = match state {
        "RUNNING" => "32",
        "STARTING" | "STOPPING" | "BACKOFF" => "33",
        "FATAL" | "UNKNOWN" => "1;31",
        "EXITED" => "35",
        _ => "2",
    };
    let pad = &padded[state.len()..];
    format!("\x1b[{sgr}m{state}\x1b[0m{pad}")
}

/// Removes every `flag` from `words`; true when there was one.
pub(super) fn take_flag(words: &mut Vec<&str>, flag: &str) -> bool {
    let before = words.len();
    words.retain(|w| *w != flag);
    words.len() != before
}

/// The `supervisor_rs.*` answers `status --json` adds to each process, and under what key.
pub(super) const STATUS_EXTENSIONS: [(&str, &str); 3] = [
    ("supervisor_rs.getAllProcessHealth", "health"),
    ("supervisor_rs.getAllProcessDependencies", "dependencies"),
    ("supervisor_rs.getAllProcessSchedules", "schedule"),
];

/// Adds to each `getProcessInfo` struct of `infos`, under `key`, the member of `found` (an
/// array of structs with `name` and `group`) that is about the same process, without those two.
pub(super) fn merge_extension(infos: &mut [Value], key: &str, found: &Value) {
    let Value::Array(found) = found else {
        return;
    };
    let same = |a: &Value, b: &Value, k: &str| a.member(k).is_some() && a.member(k) == b.member(k);
    for info in infos.iter_mut() {
        let Some(entry) = found
            .iter()
            .find(|f| same(f, info, "name") && same(f, info, "group"))
        else {
            continue;
        };
        let Value::Struct(members) = entry else {
            continue;
        };
        let rest: Vec<(String, Value)> = members
            .iter()
            .filter(|(k, _)| k != "name" && k != "group")
            .cloned()
            .collect();
        if let Value::Struct(info) = info {
            info.push((key.to_string(), Value::Struct(rest)));
        }
    }
}

/// `status --json`: an array with one object per process, every `getProcessInfo` field in the
/// API's order and types, then what the `supervisor_rs.*` extensions say of it.
pub(super) fn status_json(infos: &[Value]) -> String {
    serde_json::to_string_pretty(&Json(&Value::Array(infos.to_vec()))).unwrap_or_default()
}

/// An XML-RPC value as JSON, struct members in the order the server sent them (a
/// `serde_json::Map` would sort them).
struct Json<'a>(&'a Value);

impl serde::Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self.0 {
            Value::Int(i) => s.serialize_i64(*i),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::String(v) => s.serialize_str(v),
            Value::Double(d) => s.serialize_f64(*d),
            Value::DateTime(t) => s.serialize_str(&t.format("%Y%m%dT%H:%M:%S").to_string()),
            Value::Base64(b) => s.serialize_str(&String::from_utf8_lossy(b)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Json(item))?;
                }
                seq.end()
            }
            Value::Struct(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, &Json(v))?;
                }
                map.end()
            }
            Value::Nil => s.serialize_unit(),
        }
    }
}

/// Words the scripts complete: commands, and which of them take process or group names.
const PROCESS_COMMANDS: &str = "clear fg pid restart signal start status stop tail";
const GROUP_COMMANDS: &str = "add remove update";
const ALL_COMMANDS: &str = "add avail clear exit fg help maintail open pid quit reload remove \
                            reread restart shutdown signal start status stop tail update version";

const BASH: &str = r#"# bash completion for supervisorctl (supervisor-rs): supervisorctl completion bash
_supervisorctl_names() {
    local opts=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c|-s|-u|-p) opts+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); ((i++)) ;;
            -*) ;;
            *) break ;;
        esac
    done
    command supervisorctl "${opts[@]}" --no-color status 2>/dev/null | awk -v g="$1" '
        { n = $1; print n; if (g && split(n, p, ":") == 2) { print p[1] ":*" } }' | sort -u
}
_supervisorctl() {
    local cur="${COMP_WORDS[COMP_CWORD]}" i cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -c|-s|-u|-p|-r) ((i++)) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=($(compgen -W "-c -s -u -p -i -r -h --no-color" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "@ALL@" -- "$cur"))
        fi
        return
    fi
    case " @PROCESS@ " in
        *" $cmd "*) COMPREPLY=($(compgen -W "all $(_supervisorctl_names 1)" -- "$cur")); return ;;
    esac
    case " @GROUP@ " in
        *" $cmd "*) COMPREPLY=($(compgen -W "all $(_supervisorctl_names | cut -d: -f1 | sort -u)" -- "$cur")) ;;
    esac
    [[ "$cmd" == help ]] && COMPREPLY=($(compgen -W "@ALL@" -- "$cur"))
}
complete -F _supervisorctl supervisorctl
"#;

const ZSH: &str = r#"#compdef supervisorctl
# zsh completion for supervisorctl (supervisor-rs): supervisorctl completion zsh
_supervisorctl() {
    local -a cmds names
    cmds=(@ALL@)
    local i cmd="" opts=()
    for ((i = 2; i < CURRENT; i++)); do
        case "${words[i]}" in
            -c|-s|-u|-p) opts+=("${words[i]}" "${words[i+1]}"); ((i++)) ;;
            -r) ((i++)) ;;
            -*) ;;
            *) cmd="${words[i]}"; break ;;
        esac
    done
    if [[ -z "$cmd" ]]; then
        _describe 'command' cmds
        return
    fi
    names=(${(f)"$(command supervisorctl $opts --no-color status 2>/dev/null | awk '{print $1}')"})
    case "$cmd" in
        @PROCESS_ZSH@) compadd -- all $names ${(u)${(M)names:#*:*}%%:*}:\* ;;
        @GROUP_ZSH@) compadd -- all ${(u)names%%:*} ;;
        help) _describe 'command' cmds ;;
    esac
}
compdef _supervisorctl supervisorctl
"#;

const FISH: &str = r#"# fish completion for supervisorctl (supervisor-rs): supervisorctl completion fish
function __supervisorctl_names
    command supervisorctl --no-color status 2>/dev/null | awk '{ print $1; if (split($1, p, ":") == 2) print p[1] ":*" }' | sort -u
end
complete -c supervisorctl -f
complete -c supervisorctl -s c -r -d 'configuration file'
complete -c supervisorctl -s s -x -d 'server URL'
complete -c supervisorctl -s u -x -d 'username'
complete -c supervisorctl -s p -x -d 'password'
complete -c supervisorctl -s r -r -d 'history file'
complete -c supervisorctl -s i -d 'interactive shell'
complete -c supervisorctl -l no-color -d 'never colour states'
complete -c supervisorctl -n '__fish_use_subcommand' -a '@ALL@'
complete -c supervisorctl -n '__fish_seen_subcommand_from @PROCESS@' -a 'all (__supervisorctl_names)'
complete -c supervisorctl -n '__fish_seen_subcommand_from @GROUP@' -a 'all (__supervisorctl_names | string replace -r ":.*" "" | sort -u)'
complete -c supervisorctl -n '__fish_seen_subcommand_from help' -a '@ALL@'
"#;

/// The completion script for `shell`, or `None` for a shell we have none for.
pub(super) fn completion_script(shell: &str) -> Option<String> {
    let template = match shell {
        "bash" => BASH,
        "zsh" => ZSH,
        "fish" => FISH,
        _ => return None,
    };
    Some(
        template
            .replace("@ALL@", ALL_COMMANDS)
            .replace("@PROCESS_ZSH@", &PROCESS_COMMANDS.replace(' ', "|"))
            .replace("@GROUP_ZSH@", &GROUP_COMMANDS.replace(' ', "|"))
            .replace("@PROCESS@", PROCESS_COMMANDS)
            .replace("@GROUP@", GROUP_COMMANDS),
    )
}

impl Controller {
    /// `completion bash|zsh|fish`: prints the script to source.
    pub(super) fn do_completion(&mut self, arg: &str) {
        match completion_script(arg.trim()) {
            Some(script) => self.out.bytes(script.as_bytes()),
            None => {
                self.output("Error: completion requires one of: bash, zsh, fish");
                self.exitstatus = exit::GENERIC;
                self.help("completion");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_columns_when_painted() {
        assert_eq!(paint_state(false, "RUNNING", 10), "RUNNING   ");
        assert_eq!(
            paint_state(true, "RUNNING", 10),
            "\x1b[32mRUNNING\x1b[0m   "
        );
        assert_eq!(
            paint_state(true, "FATAL", 10),
            "\x1b[1;31mFATAL\x1b[0m     "
        );
    }

    #[test]
    fn json_keeps_types_and_order() {
        let info = Value::structure([
            ("name", "web".into()),
            ("pid", Value::Int(42)),
            ("stdout_logfile", "".into()),
        ]);
        assert_eq!(
            status_json(&[info]),
            "[\n  {\n    \"name\": \"web\",\n    \"pid\": 42,\n    \"stdout_logfile\": \"\"\n  }\n]"
        );
    }

    #[test]
    fn scripts_for_three_shells() {
        for shell in ["bash", "zsh", "fish"] {
            let s = completion_script(shell).unwrap();
            assert!(s.contains("supervisorctl"), "{shell}");
            for placeholder in ["@ALL@", "@PROCESS", "@GROUP"] {
                assert!(!s.contains(placeholder), "{shell}: {placeholder} left");
            }
        }
        assert!(completion_script("tcsh").is_none());
    }
}
