/*
 * test-api-doc.c -- docs/api.md's attribute tables are the controller's.
 *
 * The section between "<!-- BEGIN GENERATED -->" and "<!-- END GENERATED
 * -->" must equal resource_print_reference()'s output, so that adding an
 * attribute without regenerating the reference fails the build's tests
 * (regenerate with: weft-controller --print-api-reference).
 */
#include <stdlib.h>
#include <string.h>

#include "controller/resource.h"
#include "tests/lib/unit.h"

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t size = 0;

    if (!f) {
        return NULL;
    }
    FILE *m = open_memstream(&buf, &size);
    char chunk[4096];
    size_t n;

    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        fwrite(chunk, 1, n, m);
    }
    fclose(m);
    fclose(f);
    return buf;
}

static void
test_reference_matches_docs(void)
{
    static const char begin[] = "<!-- BEGIN GENERATED -->\n";
    static const char end[] = "<!-- END GENERATED -->";
    char *doc = read_file("docs/api.md");
    char *gen = NULL;
    size_t gen_size = 0;
    FILE *m;

    if (!doc) {
        doc = read_file("../../docs/api.md");
    }
    CHECK(doc != NULL);
    if (!doc) {
        return;
    }
    m = open_memstream(&gen, &gen_size);
    resource_print_reference(m);
    fclose(m);

    char *b = strstr(doc, begin);
    char *e = b ? strstr(b, end) : NULL;

    CHECK(b && e);
    if (b && e) {
        b += strlen(begin);
        CHECK_EQ((size_t) (e - b), gen_size);
        CHECK(!strncmp(b, gen, gen_size));
        if ((size_t) (e - b) != gen_size || strncmp(b, gen, gen_size)) {
            fprintf(stderr, "  docs/api.md is stale: regenerate its "
                    "attribute section with weft-controller "
                    "--print-api-reference\n");
        }
    }
    /* Every resource has a table. */
    CHECK(strstr(gen, "### networks") && strstr(gen, "### subnets")
          && strstr(gen, "### ports") && strstr(gen, "### routers")
          && strstr(gen, "### agents"));
    /* ...and the router actions are listed. */
    CHECK(strstr(gen, "`add_router_interface`")
          && strstr(gen, "`remove_router_interface`"));
    free(gen);
    free(doc);
}

int
main(void)
{
    RUN(test_reference_matches_docs);
    return unit_finish();
}
