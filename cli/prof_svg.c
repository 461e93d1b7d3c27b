/*
 * A flame graph from folded stacks, drawn as flamegraph.pl draws one: the root at the
 * bottom, each frame as wide as its samples, callers below callees, siblings by name. One
 * SVG file with nothing outside it (no script, no font, no stylesheet link).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prof.h"

#define SVG_WIDTH 1200
#define SVG_PAD 10
#define SVG_TOP 40     /* room for the title */
#define FRAME_H 16
#define CHAR_W 7.0     /* of the 12px monospace labels */
#define MIN_W 0.1      /* narrower frames are not drawn (nor what they call) */

struct node {
	char *name;
	uint64_t count;
	struct node *child, *last, *next;
};

static struct node *node_new(const char *name, size_t len)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n && !(n->name = strndup(name, len))) {
		free(n);
		n = NULL;
	}
	return n;
}

/* Adds COUNT along STACK's frames under ROOT; the lines come sorted, so a frame's sibling
 * of the same name is the last one added. */
static int insert(struct node *root, const char *stack, uint64_t count, int *depth)
{
	struct node *at = root;
	int d = 0;

	root->count += count;
	for (const char *p = stack; *p;) {
		size_t len = strcspn(p, ";");
		struct node *c = at->last;

		if (!c || strlen(c->name) != len || strncmp(c->name, p, len)) {
			if (!(c = node_new(p, len)))
				return -ENOMEM;
			if (at->last)
				at->last->next = c;
			else
				at->child = c;
			at->last = c;
		}
		c->count += count;
		at = c;
		d++;
		p += len;
		if (*p == ';')
			p++;
	}
	if (d > *depth)
		*depth = d;
	return 0;
}

static void tree_free(struct node *n)
{
	while (n) {
		struct node *next = n->next;

		tree_free(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

static void xml_text(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		switch (s[i]) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			/* Control bytes are not XML characters. */
			fputc((unsigned char)s[i] < 0x20 ? '?' : s[i], out);
		}
	}
}

/* flamegraph.pl's "hot" palette, chosen by the name so a function keeps its colour. */
static void colour(const char *name, unsigned rgb[3])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	rgb[0] = 205 + h % 50;
	rgb[1] = (h >> 8) % 230;
	rgb[2] = (h >> 16) % 55;
}

struct draw {
	FILE *out;
	uint64_t total;
	int height;
	double scale; /* pixels per sample */
};

static void draw(const struct draw *d, const struct node *n, int level, double x)
{
	double w = (double)n->count * d->scale;
	int y = d->height - SVG_PAD - (level + 1) * FRAME_H;
	size_t fit = w > 6 ? (size_t)((w - 6) / CHAR_W) : 0;
	unsigned rgb[3];

	if (w < MIN_W)
		return;
	colour(n->name, rgb);
	fputs("<g><title>", d->out);
	xml_text(d->out, n->name, (size_t)-1);
	fprintf(d->out, " (%llu samples, %.2f%%)</title>", (unsigned long long)n->count,
		100.0 * (double)n->count / (double)d->total);
	fprintf(d->out, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
		x, y, w, FRAME_H - 1, rgb[0], rgb[1], rgb[2]);
	if (fit >= 3) {
		fprintf(d->out, "<text x=\"%.1f\" y=\"%d\">", x + 3, y + FRAME_H - 4);
		if (strlen(n->name) <= fit) {
			xml_text(d->out, n->name, fit);
		} else {
			xml_text(d->out, n->name, fit - 2);
			fputs("..", d->out);
		}
		fputs("</text>", d->out);
	}
	fputs("</g>\n", d->out);
	for (const struct node *c = n->child; c; c = c->next) {
		draw(d, c, level + 1, x);
		x += (double)c->count * d->scale;
	}
}

int prof_svg_write(FILE *out, const struct prof_folded *f, const char *title)
{
	struct node root = { .name = "all" };
	struct draw d = { .out = out, .total = f->total };
	int depth = 0;

	for (size_t i = 0; i < f->n; i++)
		if (insert(&root, f->lines[i].stack, f->lines[i].count, &depth)) {
			tree_free(root.child);
			return -ENOMEM;
		}
	if (!d.total)
		d.total = root.count ? root.count : 1;
	d.height = SVG_TOP + (depth + 1) * FRAME_H + 2 * SVG_PAD;
	d.scale = (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)(root.count ? root.count : 1);
	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		     "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		     "viewBox=\"0 0 %d %d\">\n"
		     "<style>text { font-family: monospace; font-size: 12px; fill: #000; } "
		     "rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n"
		     "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
		     "<text x=\"%d\" y=\"24\" style=\"font-size: 16px\">",
		SVG_WIDTH, d.height, SVG_WIDTH, d.height, SVG_PAD);
	xml_text(out, title, (size_t)-1);
	fprintf(out, " (%llu samples)</text>\n", (unsigned long long)root.count);
	if (root.count)
		draw(&d, &root, 0, SVG_PAD);
	fputs("</svg>\n", out);
	tree_free(root.child);
	return fflush(out) || ferror(out) ? -(errno ? errno : EIO) : 0;
}
