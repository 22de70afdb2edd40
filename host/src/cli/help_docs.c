/*
 * help_docs.c — the man page (ringhost.1) and the bash completion, both
 * written from the verb table of main.c, so neither can drift from what
 * `ringhost help` prints.  The build runs `ringhost help --man` and
 * `ringhost help --bash-completion` and installs what they print
 * (host/CMakeLists.txt).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* roff: a line starting with '.' or '\'' would be a request; '\\' and '-'
 * are escaped so options print as typed. */
static void roff(FILE *out, const char *text)
{
    if (*text == '.' || *text == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else if (*p == '\n')
            fputs("\n.br\n", out);
        else
            fputc(*p, out);
    }
}

void rh__cli_print_man(FILE *out, const char *version)
{
    fprintf(out, ".TH RINGHOST 1 \"\" \"ringhost %s\" \"User Commands\"\n", version);
    fputs(".SH NAME\nringhost \\- host ring kernels wired by a manifest, and talk to a running "
          "host\n.SH SYNOPSIS\n", out);
    const char *verb, *usage;
    for (int i = 0; rh__cli_verb_at(i, &verb, &usage); i++) {
        fputs(".B ringhost\n", out);
        roff(out, usage);
        fputs("\n.br\n", out);
    }
    fputs(".B ringhost help\n[VERB]\n.br\n.B ringhost\n\\-\\-version\n", out);
    fputs(".SH DESCRIPTION\n"
          "A manifest names kernels (plugins), the shared queues between them and their "
          "threads.\n.B ringhost run\n"
          "launches it and serves until SIGINT or SIGTERM (or, with \\-\\-send, until the file "
          "is answered), then writes a summary and one accounting line per queue.  The other "
          "verbs talk to a serving host by instance name.\n"
          "\\fBringhost help\\fR \\fIVERB\\fR or \\fIVERB\\fR \\fB\\-\\-help\\fR prints one "
          "verb's usage.\n", out);
    fputs(".SH EXIT STATUS\n"
          "0 success; 1 a runtime failure (the arguments were right and the work failed); "
          "2 bad input, or a name (instance, queue, kernel, file) that names nothing.\n", out);
    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B RINGHOST_INSTANCE\nthe default \\-\\-instance\n"
          ".TP\n.B RINGHOST_PLUGIN_PATH\nthe default plugins folder\n"
          ".TP\n.B RINGHOST_RUNTIME_DIR\nthe control sockets' folder\n"
          ".TP\n.B RINGHOST_LOG\nthe log level: off, error, warn, info, debug\n", out);
    fputs(".SH SEE ALSO\nREADME.md and docs/OPERATIONS.md of the ringhost sources.\n", out);
}

/* The options a usage text names ("--send", "-n"), each once, space-separated. */
static void options_of(FILE *out, const char *usage)
{
    char seen[2048] = " ";
    for (const char *p = usage; *p; p++) {
        if (*p != '-' || (p > usage && (isalnum((unsigned char)p[-1]) || p[-1] == '-')))
            continue;
        const char *e = p + 1 + (p[1] == '-');
        while (isalnum((unsigned char)*e) || (*e == '-' && isalnum((unsigned char)e[1])))
            e++;
        size_t n = (size_t)(e - p);
        if (n < 2 || (p[1] == '-' && n < 3))
            continue;
        char opt[64];
        snprintf(opt, sizeof opt, " %.*s ", (int)(n < 60 ? n : 60), p);
        if (strstr(seen, opt) || strlen(seen) + strlen(opt) >= sizeof seen)
            continue;
        strcat(seen, opt + 1);
        fprintf(out, "%.*s ", (int)(n < 60 ? n : 60), p);
        p = e - 1;
    }
}

void rh__cli_print_bash_completion(FILE *out)
{
    const char *verb, *usage;
    fputs("# bash completion for ringhost: written by `ringhost help --bash-completion`\n"
          "_ringhost() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} opts\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W \"", out);
    for (int i = 0; rh__cli_verb_at(i, &verb, &usage); i++)
        fprintf(out, "%s ", verb);
    fputs("help --help --version\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case ${COMP_WORDS[1]} in\n", out);
    for (int i = 0; rh__cli_verb_at(i, &verb, &usage); i++) {
        fprintf(out, "    %s) opts=\"", verb);
        options_of(out, usage);
        fputs("--help\" ;;\n", out);
    }
    fputs("    help) COMPREPLY=($(compgen -W \"", out);
    for (int i = 0; rh__cli_verb_at(i, &verb, &usage); i++)
        fprintf(out, "%s ", verb);
    fputs("\" -- \"$cur\")); return ;;\n"
          "    *) opts=\"\" ;;\n"
          "    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    else\n"
          "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "    fi\n"
          "}\n"
          "complete -o filenames -F _ringhost ringhost\n", out);
}
