#compdef ambake

autoload -U is-at-least

_ambake() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_ambake_commands" \
"*::: :->ambake" \
&& ret=0
    case $state in
    (ambake)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:ambake-command-$line[1]:"
        case $line[1] in
            (build)
_arguments "${_arguments_options[@]}" : \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'*--only=[Only these builds (comma-separated globs on \`amazon-ebs.<name>\` or \`<build>.amazon-ebs.<name>\`)]:NAMES:_default' \
'*--except=[All builds except these (comma-separated globs)]:NAMES:_default' \
'--on-error=[What to do when a build fails]:ON_ERROR:(cleanup abort ask run-cleanup-provisioner)' \
'--parallel-builds=[How many builds run at once (0\: all)]:PARALLEL_BUILDS:_default' \
'--color=[]::COLOR:(true false)' \
'--force[Deregister an existing AMI of the same name (sets force_deregister)]' \
'--machine-readable[]' \
'--timestamp-ui[]' \
'(--machine-readable)--json[One JSON object per line on stdout\: the events of docs/json-events.md (an ambake extension, beside Packer'\''s -machine-readable)]' \
'--debug[Pause between steps and keep the temporary private key]' \
'-h[Print help]' \
'--help[Print help]' \
':template -- The template\: a .pkr.hcl or .pkr.json file, or a directory of them:_default' \
&& ret=0
;;
(validate)
_arguments "${_arguments_options[@]}" : \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'*--only=[Only these builds (comma-separated globs on \`amazon-ebs.<name>\` or \`<build>.amazon-ebs.<name>\`)]:NAMES:_default' \
'*--except=[All builds except these (comma-separated globs)]:NAMES:_default' \
'--syntax-only[Only check the syntax]' \
'--evaluate-datasources[Evaluate data sources against AWS (calls DescribeImages); without it their values are unknown]' \
'--machine-readable[Print machine-readable output]' \
'-h[Print help]' \
'--help[Print help]' \
':template -- Template file, directory, or - for stdin:_default' \
&& ret=0
;;
(inspect)
_arguments "${_arguments_options[@]}" : \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'--json[Print one JSON object instead of text]' \
'--machine-readable[Print machine-readable output (same as --json)]' \
'-h[Print help]' \
'--help[Print help]' \
':template -- Template file, directory, or - for stdin:_default' \
&& ret=0
;;
(fmt)
_arguments "${_arguments_options[@]}" : \
'--write=[Write the result back to the files (default true; -write=false prints nothing but the list)]::WRITE:(true false)' \
'--check[Do not write; exit 3 if any file is not formatted (as packer fmt -check)]' \
'--diff[Show the changes as a diff]' \
'--recursive[Also format files in subdirectories]' \
'-h[Print help]' \
'--help[Print help]' \
':path -- File or directory (or - to format stdin to stdout):_default' \
&& ret=0
;;
(whoami)
_arguments "${_arguments_options[@]}" : \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'--profile=[Use this shared-config profile (wins over AWS_PROFILE and the template)]:PROFILE:_default' \
'--region=[Use this region (wins over AWS_REGION and the template)]:REGION:_default' \
'--json[Print one JSON object]' \
'-h[Print help]' \
'--help[Print help]' \
'::template -- A template\: show the identity each amazon-ebs source would use:_default' \
&& ret=0
;;
(resume)
_arguments "${_arguments_options[@]}" : \
'--from=[Start with this provisioner (1 is the first) instead of the one that failed]:FROM:_default' \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'*--only=[Only these builds (comma-separated globs on \`amazon-ebs.<name>\` or \`<build>.amazon-ebs.<name>\`)]:NAMES:_default' \
'*--except=[All builds except these (comma-separated globs)]:NAMES:_default' \
'--on-error=[What to do when a build fails]:ON_ERROR:(cleanup abort ask run-cleanup-provisioner)' \
'--parallel-builds=[How many builds run at once (0\: all)]:PARALLEL_BUILDS:_default' \
'--color=[]::COLOR:(true false)' \
'--force[Deregister an existing AMI of the same name (sets force_deregister)]' \
'--machine-readable[]' \
'--timestamp-ui[]' \
'(--machine-readable)--json[One JSON object per line on stdout\: the events of docs/json-events.md (an ambake extension, beside Packer'\''s -machine-readable)]' \
'--debug[Pause between steps and keep the temporary private key]' \
'-h[Print help]' \
'--help[Print help]' \
':build_id -- The build id the failed build printed (its journal):_default' \
':template -- The template\: a .pkr.hcl or .pkr.json file, or a directory of them:_default' \
&& ret=0
;;
(cleanup)
_arguments "${_arguments_options[@]}" : \
'*--region=[Regions to search with --orphans (repeatable; default\: the current region)]:REGION:_default' \
'--older-than=[With --orphans\: only builds whose newest resource is older than this (default 6h; 0 for any age — a build that is still running elsewhere is then at risk)]:OLDER_THAN:_default' \
'--all[Replay every journal left in the state directory]' \
'--orphans[Find leftovers by their ambake\:build-id tag, even without a journal]' \
'--dry-run[List what would be deleted, delete nothing]' \
'-y[With --orphans\: delete without asking (needed when stdin is not a terminal)]' \
'--yes[With --orphans\: delete without asking (needed when stdin is not a terminal)]' \
'--include-artifacts[Also delete the AMIs the build finished (tagged ambake\:committed), after listing them]' \
'-h[Print help]' \
'--help[Print help]' \
'::build_id -- The build id printed by `ambake build` (its journal is replayed):_default' \
&& ret=0
;;
(iam-policy)
_arguments "${_arguments_options[@]}" : \
'*--var=[Set a variable\: -var name=value (repeatable; wins over every other source)]:NAME=VALUE:_default' \
'*--var-file=[Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)]:FILE:_default' \
'*--only=[Only these builds (comma-separated globs on \`amazon-ebs.<name>\` or \`<build>.amazon-ebs.<name>\`)]:NAMES:_default' \
'*--except=[All builds except these (comma-separated globs)]:NAMES:_default' \
'--for=[With assume_role\: print only the caller'\''s policy or only the role'\''s (default\: both, as {"caller"\: …, "role"\: …})]:PRINCIPAL:((caller\:"The credentials ambake starts with (they assume the role)"
role\:"The role the builds assume (it runs the build)"))' \
'--explain[List each action with the reason it is needed instead of the JSON document]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':template:_default' \
&& ret=0
;;
(version)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(transfer)
_arguments "${_arguments_options[@]}" : \
'--host=[]:HOST:_default' \
'--port=[]:PORT:_default' \
'--user=[]:USER:_default' \
'--key=[Private key file]:KEY:_default' \
'*--ciphers=[Ciphers to offer, in order (comma-separated), as a template'\''s ssh_ciphers]:CIPHERS:_default' \
'--sftp[Use SFTP instead of scp]' \
'-h[Print help]' \
'--help[Print help]' \
':direction -- upload or download:(upload download)' \
':src:_default' \
':dst:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_ambake__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:ambake-help-command-$line[1]:"
        case $line[1] in
            (build)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(validate)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(inspect)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(fmt)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(whoami)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(resume)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(cleanup)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(iam-policy)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(version)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(transfer)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_ambake_commands] )) ||
_ambake_commands() {
    local commands; commands=(
'build:Build the AMIs of a template' \
'validate:Check that a template is valid, reporting every error with file\:line\:col' \
'inspect:Show a template'\''s variables, locals, sources and builds' \
'fmt:Rewrite templates in the canonical format' \
'whoami:Show which AWS credentials, account and region would be used, and check the clock' \
'resume:Continue a build kept by -on-error=abort\: its provisioners from the one that failed, then the image (an ambake extension)' \
'cleanup:Remove resources left behind by interrupted or crashed builds' \
'iam-policy:Print the minimal IAM policy a template'\''s builds need' \
'version:Print the version' \
'completions:Print a shell completion script' \
'man:Print the man page' \
'transfer:Copy one file over SSH with ambake'\''s communicator (benchmarks, debugging)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'ambake commands' commands "$@"
}
(( $+functions[_ambake__subcmd__build_commands] )) ||
_ambake__subcmd__build_commands() {
    local commands; commands=()
    _describe -t commands 'ambake build commands' commands "$@"
}
(( $+functions[_ambake__subcmd__cleanup_commands] )) ||
_ambake__subcmd__cleanup_commands() {
    local commands; commands=()
    _describe -t commands 'ambake cleanup commands' commands "$@"
}
(( $+functions[_ambake__subcmd__completions_commands] )) ||
_ambake__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'ambake completions commands' commands "$@"
}
(( $+functions[_ambake__subcmd__fmt_commands] )) ||
_ambake__subcmd__fmt_commands() {
    local commands; commands=()
    _describe -t commands 'ambake fmt commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help_commands] )) ||
_ambake__subcmd__help_commands() {
    local commands; commands=(
'build:Build the AMIs of a template' \
'validate:Check that a template is valid, reporting every error with file\:line\:col' \
'inspect:Show a template'\''s variables, locals, sources and builds' \
'fmt:Rewrite templates in the canonical format' \
'whoami:Show which AWS credentials, account and region would be used, and check the clock' \
'resume:Continue a build kept by -on-error=abort\: its provisioners from the one that failed, then the image (an ambake extension)' \
'cleanup:Remove resources left behind by interrupted or crashed builds' \
'iam-policy:Print the minimal IAM policy a template'\''s builds need' \
'version:Print the version' \
'completions:Print a shell completion script' \
'man:Print the man page' \
'transfer:Copy one file over SSH with ambake'\''s communicator (benchmarks, debugging)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'ambake help commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__build_commands] )) ||
_ambake__subcmd__help__subcmd__build_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help build commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__cleanup_commands] )) ||
_ambake__subcmd__help__subcmd__cleanup_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help cleanup commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__completions_commands] )) ||
_ambake__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help completions commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__fmt_commands] )) ||
_ambake__subcmd__help__subcmd__fmt_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help fmt commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__help_commands] )) ||
_ambake__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help help commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__iam-policy_commands] )) ||
_ambake__subcmd__help__subcmd__iam-policy_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help iam-policy commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__inspect_commands] )) ||
_ambake__subcmd__help__subcmd__inspect_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help inspect commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__man_commands] )) ||
_ambake__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help man commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__resume_commands] )) ||
_ambake__subcmd__help__subcmd__resume_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help resume commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__transfer_commands] )) ||
_ambake__subcmd__help__subcmd__transfer_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help transfer commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__validate_commands] )) ||
_ambake__subcmd__help__subcmd__validate_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help validate commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__version_commands] )) ||
_ambake__subcmd__help__subcmd__version_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help version commands' commands "$@"
}
(( $+functions[_ambake__subcmd__help__subcmd__whoami_commands] )) ||
_ambake__subcmd__help__subcmd__whoami_commands() {
    local commands; commands=()
    _describe -t commands 'ambake help whoami commands' commands "$@"
}
(( $+functions[_ambake__subcmd__iam-policy_commands] )) ||
_ambake__subcmd__iam-policy_commands() {
    local commands; commands=()
    _describe -t commands 'ambake iam-policy commands' commands "$@"
}
(( $+functions[_ambake__subcmd__inspect_commands] )) ||
_ambake__subcmd__inspect_commands() {
    local commands; commands=()
    _describe -t commands 'ambake inspect commands' commands "$@"
}
(( $+functions[_ambake__subcmd__man_commands] )) ||
_ambake__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'ambake man commands' commands "$@"
}
(( $+functions[_ambake__subcmd__resume_commands] )) ||
_ambake__subcmd__resume_commands() {
    local commands; commands=()
    _describe -t commands 'ambake resume commands' commands "$@"
}
(( $+functions[_ambake__subcmd__transfer_commands] )) ||
_ambake__subcmd__transfer_commands() {
    local commands; commands=()
    _describe -t commands 'ambake transfer commands' commands "$@"
}
(( $+functions[_ambake__subcmd__validate_commands] )) ||
_ambake__subcmd__validate_commands() {
    local commands; commands=()
    _describe -t commands 'ambake validate commands' commands "$@"
}
(( $+functions[_ambake__subcmd__version_commands] )) ||
_ambake__subcmd__version_commands() {
    local commands; commands=()
    _describe -t commands 'ambake version commands' commands "$@"
}
(( $+functions[_ambake__subcmd__whoami_commands] )) ||
_ambake__subcmd__whoami_commands() {
    local commands; commands=()
    _describe -t commands 'ambake whoami commands' commands "$@"
}

if [ "$funcstack[1]" = "_ambake" ]; then
    _ambake "$@"
else
    compdef _ambake ambake
fi
