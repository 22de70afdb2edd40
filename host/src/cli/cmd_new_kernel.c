/*
 * cmd_new_kernel.c — `ringhost new-kernel [--cuda] NAME [DIR]`: write a
 * ready-to-build kernel folder, DIR (default ./NAME):
 *
 *   CMakeLists.txt        find_package(ringhost), ringhost_add_kernel, its test
 *   NAME.c                the kernel: ports, init (reads "config"), process, fini
 *   NAME_request.json     message type NAME.request (input "in")
 *   NAME_response.json    message type NAME.response (output "out")
 *   test_NAME.c           its cmocka test through ringhost/testing.h
 *   manifest.json         a host running it (plugins from build/plugins)
 *   requests.jsonl        two requests for `ringhost run --send`
 *   README.md, .gitignore
 *
 * With --cuda, a GPU ring kernel instead (new_kernel_templates_cuda.c): a
 * host part NAME.c with its rh_device_kernel, device code NAME_device.cu,
 * a cmocka test driving ringhost's device loop on the CPU (test_NAME.cpp)
 * and a GPU test (test_NAME_gpu.sh, label gpu, skipped without a GPU).
 *
 * The kernel works as written: it builds against the installed package, its
 * test passes, and `ringhost run manifest.json --send requests.jsonl` answers
 * (tests/integration/test_new_kernel.sh checks all three; for --cuda,
 * test_new_kernel_cuda.sh builds it and runs its CPU test), so an author starts
 * from something that runs and changes it step by step.
 *
 * NAME becomes the plugin file, the C symbols (NAME_process, the generated
 * NAME_request struct), the message type names and the CMake targets NAME,
 * NAME_kernel and test_NAME, so it must be a C identifier that none of those
 * reserve.  DIR must not exist: nothing is ever overwritten.  Exit status 2
 * for a bad NAME, an existing DIR or bad usage; 1 when writing fails (what
 * was written is removed again).
 */
#define _GNU_SOURCE /* asprintf, GLOB_BRACE */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "new_kernel_templates.h"

/* NAME.in and NAME.response must stay within RH_QUEUE_NAME_MAX (64). */
#define NAME_MAX_LEN 40


/* text with every @NAME@ replaced by name; NULL when out of memory. */
static char *expand(const char *text, const char *name)
{
    static const char mark[] = "@NAME@";
    size_t n = 0, name_len = strlen(name);
    for (const char *p = text; (p = strstr(p, mark)); p += sizeof mark - 1)
        n++;
    char *out = malloc(strlen(text) + n * name_len + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text, *q; *p; p = q + sizeof mark - 1) {
        q = strstr(p, mark);
        if (!q) {
            strcpy(o, p);
            return out;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, name, name_len);
        o += name_len;
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------- checks ---- */

/* Identifiers NAME may not be: C keywords and the macros gcc predefines in
 * gnu11 (NAME_process would not compile)... */
static const char *const c_words[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "asm", "typeof", "linux", "unix", "i386",
};
/* ...and the target names CMake reserves, or the ringhost tree uses (the
 * plugin's target is NAME). */
static const char *const cmake_words[] = {
    "all", "clean", "help", "install", "test", "package", "package_source", "edit_cache",
    "rebuild_cache", "depend", "list_install_components", "ringhost",
};

static int among(const char *name, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, words[i]) == 0)
            return 1;
    return 0;
}

/* 0 when name can name a kernel; otherwise -1 and why not in why. */
static int name_problem(const char *name, char *why, size_t why_len)
{
    size_t len = strlen(name);
    size_t bad = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    if (len == 0)
        snprintf(why, why_len, "it is empty");
    else if (len > NAME_MAX_LEN)
        snprintf(why, why_len, "it has %zu characters, at most %d fit the queue names", len,
                 NAME_MAX_LEN);
    else if (name[bad] != '\0')
        snprintf(why, why_len, "'%c' at offset %zu: only letters, digits and '_' can name C "
                               "symbols", name[bad], bad);
    else if (name[0] >= '0' && name[0] <= '9')
        snprintf(why, why_len, "it starts with a digit");
    else if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z')))
        snprintf(why, why_len, "names starting with __ or _ and a capital are the compiler's");
    else if (among(name, c_words, sizeof c_words / sizeof c_words[0]))
        snprintf(why, why_len, "it is a C keyword or a macro the compiler predefines");
    else if (among(name, cmake_words, sizeof cmake_words / sizeof cmake_words[0]))
        snprintf(why, why_len, "it is a target name CMake reserves or ringhost uses");
    else
        return 0;
    return -1;
}

/* ------------------------------------------------------------- writing --- */

/* mkdir -p of the folders above path (not path itself). */
static int make_parents(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return -1;
        *q = '/';
    }
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wx"); /* x: never replace a file */
    if (!f)
        return -1;
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len;
    if (fclose(f) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

/* Write every template into dir (which exists, empty).  0, or -1 with the
 * file that failed in failed_path; the files written so far are removed. */
/* The files one kind of kernel folder holds. */
typedef struct template_set {
    const rh_kernel_template *t;
    size_t n;
} template_set;

static int write_all(const template_set *set, const char *dir, const char *name,
                     char *failed_path, size_t failed_len)
{
    const rh_kernel_template *t = set->t;
    char **written = calloc(set->n, sizeof *written);
    if (!written) {
        snprintf(failed_path, failed_len, "%s", dir);
        errno = ENOMEM;
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        char *file = expand(t[i].file, name), *text = expand(t[i].text, name);
        char *path = NULL;
        int ok = file && text && asprintf(&path, "%s/%s", dir, file) >= 0;
        if (ok && write_text(path, text) == 0) {
            written[n++] = path;
        } else {
            int e = ok ? errno : ENOMEM;
            snprintf(failed_path, failed_len, "%s/%s", dir, file ? file : t[i].file);
            if (ok)
                remove(path); /* a partly written file */
            free(path);
            free(file);
            free(text);
            while (n > 0) {
                remove(written[--n]);
                free(written[n]);
            }
            free(written);
            errno = e;
            return -1;
        }
        free(file);
        free(text);
    }
    while (n > 0)
        free(written[--n]);
    free(written);
    return 0;
}

/* The prefix this ringhost is installed in (P of P/bin/ringhost, holding
 * the CMake package), or 0 when it runs from a build tree. */
static int installed_prefix(char *exe, size_t exe_len, char *prefix, size_t prefix_len)
{
    ssize_t n = readlink("/proc/self/exe", exe, exe_len - 1);
    if (n <= 0) {
        snprintf(exe, exe_len, "ringhost");
        return 0;
    }
    exe[n] = '\0';
    snprintf(prefix, prefix_len, "%s", exe);
    for (int up = 0; up < 2; up++) { /* P/bin/ringhost -> P */
        char *slash = strrchr(prefix, '/');
        if (!slash)
            return 0;
        *slash = '\0';
    }
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof pattern, "%s/lib*/{,*/}cmake/ringhost/ringhostConfig.cmake", prefix);
    glob_t g;
    int found = glob(pattern, GLOB_BRACE | GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

/* arg as a shell word: as is when it has no special characters, else in
 * single quotes. */
static void print_word(const char *arg)
{
    if (arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./+=:,@")]
        == '\0') {
        fputs(arg, stdout);
        return;
    }
    putchar('\'');
    for (const char *p = arg; *p; p++)
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    putchar('\'');
}

static void print_next_steps(const template_set *set, int cuda, const char *dir,
                             const char *name)
{
    printf("Wrote %skernel \"%s\" in %s/:\n", cuda ? "GPU " : "", name, dir);
    int width = 0; /* of the longest file name, once expanded */
    for (size_t i = 0; i < set->n; i++) {
        char *file = expand(set->t[i].file, name);
        if (file && (int)strlen(file) > width)
            width = (int)strlen(file);
        free(file);
    }
    for (size_t i = 0; i < set->n; i++) {
        char *file = expand(set->t[i].file, name);
        char *what = expand(set->t[i].what, name);
        printf("  %-*s  %s\n", width, file ? file : "?", what ? what : "?");
        free(file);
        free(what);
    }
    char exe[PATH_MAX], prefix[PATH_MAX];
    int installed = installed_prefix(exe, sizeof exe, prefix, sizeof prefix);
    printf("\nNext: build it, run its test, run it in the host:\n  cd ");
    print_word(dir);
    printf("\n  cmake -S . -B build -DCMAKE_PREFIX_PATH=");
    if (installed)
        print_word(prefix);
    else
        printf("<ringhost's install prefix>");
    printf("\n  cmake --build build\n"
           "  (cd build && ctest --output-on-failure)\n  ");
    print_word(exe);
    printf(" run manifest.json --send requests.jsonl\n");
    if (cuda)
        printf("\nThe device code needs nvcc (the CUDA toolkit) to build, and the run a GPU;\n"
               "test_%s drives the device loop on the CPU without either.\n",
               name);
    if (!installed)
        printf("\nThis ringhost (%s) runs from a build tree, not an installed prefix:\n"
               "install one first, e.g. `make install PREFIX=$HOME/.local` in the ringhost\n"
               "source tree, and use that prefix above.\n",
               exe);
}

/* --json: {"kernel": NAME, "dir": DIR, "files": [{"file": F, "what": W}, ...]},
 * the files in the order written, F relative to DIR. */
static void print_written_json(const template_set *set, const char *dir, const char *name)
{
    json_t *files = json_array();
    for (size_t i = 0; i < set->n; i++) {
        char *file = expand(set->t[i].file, name);
        char *what = expand(set->t[i].what, name);
        json_array_append_new(files, json_pack("{s:s, s:s}", "file", file ? file : "?", "what",
                                               what ? what : "?"));
        free(file);
        free(what);
    }
    rh__cli_print_json_line(json_pack("{s:s, s:s, s:o}", "kernel", name, "dir", dir, "files",
                                      files));
}

static int usage(FILE *out, int code)
{
    fprintf(out, "usage: ringhost new-kernel [--cuda] NAME [DIR] [--json]\n"
                 "  writes a ready-to-build kernel NAME (a C identifier) into DIR, default ./NAME;\n"
                 "  DIR must not exist yet\n"
                 "  --cuda  a GPU ring kernel: host part, device code (.cu), a test of the device\n"
                 "          loop on the CPU and a GPU test (docs/GPU.md)\n");
    return code;
}

int rh__cmd_new_kernel(int argc, char **argv)
{
    const char *args[2] = {NULL, NULL};
    int n_args = 0, cuda = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout, RH_EXIT_OK);
        if (!strcmp(argv[i], "--cuda")) {
            cuda = 1;
            continue;
        }
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "ringhost new-kernel: unknown option \"%s\"\n", argv[i]);
            return usage(stderr, RH_EXIT_BADINPUT);
        }
        if (n_args == 2) {
            fprintf(stderr, "ringhost new-kernel: unexpected argument \"%s\"\n", argv[i]);
            return usage(stderr, RH_EXIT_BADINPUT);
        }
        args[n_args++] = argv[i];
    }
    if (n_args == 0) {
        fprintf(stderr, "ringhost new-kernel: expected a kernel NAME\n");
        return usage(stderr, RH_EXIT_BADINPUT);
    }
    const char *name = args[0], *dir = args[1] ? args[1] : args[0];
    char problem[256];
    if (name_problem(name, problem, sizeof problem) != 0) {
        fprintf(stderr,
                "ringhost new-kernel: NAME \"%s\": %s; expected a C identifier of 1 to %d "
                "characters, such as my_filter\n",
                name, problem, NAME_MAX_LEN);
        return RH_EXIT_BADINPUT;
    }
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    char *folder = strndup(dir, dir_len);
    if (!folder || dir_len == 0) {
        fprintf(stderr, "ringhost new-kernel: DIR is empty\n");
        free(folder);
        return RH_EXIT_BADINPUT;
    }
    const template_set set = cuda ? (template_set){rh__kernel_templates_cuda,
                                                   rh__kernel_n_templates_cuda}
                                  : (template_set){rh__kernel_templates, rh__kernel_n_templates};
    int rc = RH_EXIT_OK;
    char failed[PATH_MAX + 64];
    if (make_parents(folder) != 0 || mkdir(folder, 0777) != 0) {
        if (errno == EEXIST) {
            fprintf(stderr,
                    "ringhost new-kernel: %s already exists; nothing was written (choose another "
                    "DIR, or remove it first)\n",
                    folder);
            rc = RH_EXIT_BADINPUT;
        } else {
            fprintf(stderr, "ringhost new-kernel: %s: cannot create the folder: %s\n", folder,
                    strerror(errno));
            rc = RH_EXIT_FAIL;
        }
    } else if (write_all(&set, folder, name, failed, sizeof failed) != 0) {
        fprintf(stderr, "ringhost new-kernel: %s: cannot write: %s; nothing was kept\n", failed,
                strerror(errno));
        rmdir(folder);
        rc = RH_EXIT_FAIL;
    } else if (as_json) {
        print_written_json(&set, folder, name);
    } else {
        print_next_steps(&set, cuda, folder, name);
    }
    free(folder);
    return rc;
}
