# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ambake_global_optspecs
    string join \n h/help V/version
end

function __fish_ambake_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ambake_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ambake_using_subcommand
    set -l cmd (__fish_ambake_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ambake -n "__fish_ambake_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ambake -n "__fish_ambake_needs_command" -s V -l version -d 'Print version'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "build" -d 'Build the AMIs of a template'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "validate" -d 'Check that a template is valid, reporting every error with file:line:col'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "inspect" -d 'Show a template\'s variables, locals, sources and builds'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "fmt" -d 'Rewrite templates in the canonical format'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "whoami" -d 'Show which AWS credentials, account and region would be used, and check the clock'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "resume" -d 'Continue a build kept by -on-error=abort: its provisioners from the one that failed, then the image (an ambake extension)'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "cleanup" -d 'Remove resources left behind by interrupted or crashed builds'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "iam-policy" -d 'Print the minimal IAM policy a template\'s builds need'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "version" -d 'Print the version'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "man" -d 'Print the man page'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "transfer" -d 'Copy one file over SSH with ambake\'s communicator (benchmarks, debugging)'
complete -c ambake -n "__fish_ambake_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ambake -n "__fish_ambake_using_subcommand build" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand build" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand build" -l only -d 'Only these builds (comma-separated globs on `amazon-ebs.<name>` or `<build>.amazon-ebs.<name>`)' -r
complete -c ambake -n "__fish_ambake_using_subcommand build" -l except -d 'All builds except these (comma-separated globs)' -r
complete -c ambake -n "__fish_ambake_using_subcommand build" -l on-error -d 'What to do when a build fails' -r -f -a "cleanup\t''
abort\t''
ask\t''
run-cleanup-provisioner\t''"
complete -c ambake -n "__fish_ambake_using_subcommand build" -l parallel-builds -d 'How many builds run at once (0: all)' -r
complete -c ambake -n "__fish_ambake_using_subcommand build" -l color -r -f -a "true\t''
false\t''"
complete -c ambake -n "__fish_ambake_using_subcommand build" -l force -d 'Deregister an existing AMI of the same name (sets force_deregister)'
complete -c ambake -n "__fish_ambake_using_subcommand build" -l machine-readable
complete -c ambake -n "__fish_ambake_using_subcommand build" -l timestamp-ui
complete -c ambake -n "__fish_ambake_using_subcommand build" -l json -d 'One JSON object per line on stdout: the events of docs/json-events.md (an ambake extension, beside Packer\'s -machine-readable)'
complete -c ambake -n "__fish_ambake_using_subcommand build" -l debug -d 'Pause between steps and keep the temporary private key'
complete -c ambake -n "__fish_ambake_using_subcommand build" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l only -d 'Only these builds (comma-separated globs on `amazon-ebs.<name>` or `<build>.amazon-ebs.<name>`)' -r
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l except -d 'All builds except these (comma-separated globs)' -r
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l syntax-only -d 'Only check the syntax'
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l evaluate-datasources -d 'Evaluate data sources against AWS (calls DescribeImages); without it their values are unknown'
complete -c ambake -n "__fish_ambake_using_subcommand validate" -l machine-readable -d 'Print machine-readable output'
complete -c ambake -n "__fish_ambake_using_subcommand validate" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand inspect" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand inspect" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand inspect" -l json -d 'Print one JSON object instead of text'
complete -c ambake -n "__fish_ambake_using_subcommand inspect" -l machine-readable -d 'Print machine-readable output (same as --json)'
complete -c ambake -n "__fish_ambake_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand fmt" -l write -d 'Write the result back to the files (default true; -write=false prints nothing but the list)' -r -f -a "true\t''
false\t''"
complete -c ambake -n "__fish_ambake_using_subcommand fmt" -l check -d 'Do not write; exit 3 if any file is not formatted (as packer fmt -check)'
complete -c ambake -n "__fish_ambake_using_subcommand fmt" -l diff -d 'Show the changes as a diff'
complete -c ambake -n "__fish_ambake_using_subcommand fmt" -l recursive -d 'Also format files in subdirectories'
complete -c ambake -n "__fish_ambake_using_subcommand fmt" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -l profile -d 'Use this shared-config profile (wins over AWS_PROFILE and the template)' -r
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -l region -d 'Use this region (wins over AWS_REGION and the template)' -r
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -l json -d 'Print one JSON object'
complete -c ambake -n "__fish_ambake_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l from -d 'Start with this provisioner (1 is the first) instead of the one that failed' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l only -d 'Only these builds (comma-separated globs on `amazon-ebs.<name>` or `<build>.amazon-ebs.<name>`)' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l except -d 'All builds except these (comma-separated globs)' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l on-error -d 'What to do when a build fails' -r -f -a "cleanup\t''
abort\t''
ask\t''
run-cleanup-provisioner\t''"
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l parallel-builds -d 'How many builds run at once (0: all)' -r
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l color -r -f -a "true\t''
false\t''"
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l force -d 'Deregister an existing AMI of the same name (sets force_deregister)'
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l machine-readable
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l timestamp-ui
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l json -d 'One JSON object per line on stdout: the events of docs/json-events.md (an ambake extension, beside Packer\'s -machine-readable)'
complete -c ambake -n "__fish_ambake_using_subcommand resume" -l debug -d 'Pause between steps and keep the temporary private key'
complete -c ambake -n "__fish_ambake_using_subcommand resume" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l region -d 'Regions to search with --orphans (repeatable; default: the current region)' -r
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l older-than -d 'With --orphans: only builds whose newest resource is older than this (default 6h; 0 for any age — a build that is still running elsewhere is then at risk)' -r
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l all -d 'Replay every journal left in the state directory'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l orphans -d 'Find leftovers by their ambake:build-id tag, even without a journal'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l dry-run -d 'List what would be deleted, delete nothing'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -s y -l yes -d 'With --orphans: delete without asking (needed when stdin is not a terminal)'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -l include-artifacts -d 'Also delete the AMIs the build finished (tagged ambake:committed), after listing them'
complete -c ambake -n "__fish_ambake_using_subcommand cleanup" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l var -d 'Set a variable: -var name=value (repeatable; wins over every other source)' -r
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l var-file -d 'Load variables from a .pkrvars.hcl or .json file (repeatable, later files win)' -r
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l only -d 'Only these builds (comma-separated globs on `amazon-ebs.<name>` or `<build>.amazon-ebs.<name>`)' -r
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l except -d 'All builds except these (comma-separated globs)' -r
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l for -d 'With assume_role: print only the caller\'s policy or only the role\'s (default: both, as {"caller": …, "role": …})' -r -f -a "caller\t'The credentials ambake starts with (they assume the role)'
role\t'The role the builds assume (it runs the build)'"
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -l explain -d 'List each action with the reason it is needed instead of the JSON document'
complete -c ambake -n "__fish_ambake_using_subcommand iam-policy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ambake -n "__fish_ambake_using_subcommand version" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand man" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l host -r
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l port -r
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l user -r
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l key -d 'Private key file' -r
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l ciphers -d 'Ciphers to offer, in order (comma-separated), as a template\'s ssh_ciphers' -r
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -l sftp -d 'Use SFTP instead of scp'
complete -c ambake -n "__fish_ambake_using_subcommand transfer" -s h -l help -d 'Print help'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "build" -d 'Build the AMIs of a template'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "validate" -d 'Check that a template is valid, reporting every error with file:line:col'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "inspect" -d 'Show a template\'s variables, locals, sources and builds'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "fmt" -d 'Rewrite templates in the canonical format'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "whoami" -d 'Show which AWS credentials, account and region would be used, and check the clock'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "resume" -d 'Continue a build kept by -on-error=abort: its provisioners from the one that failed, then the image (an ambake extension)'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "cleanup" -d 'Remove resources left behind by interrupted or crashed builds'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "iam-policy" -d 'Print the minimal IAM policy a template\'s builds need'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "version" -d 'Print the version'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "completions" -d 'Print a shell completion script'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "man" -d 'Print the man page'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "transfer" -d 'Copy one file over SSH with ambake\'s communicator (benchmarks, debugging)'
complete -c ambake -n "__fish_ambake_using_subcommand help; and not __fish_seen_subcommand_from build validate inspect fmt whoami resume cleanup iam-policy version completions man transfer help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
