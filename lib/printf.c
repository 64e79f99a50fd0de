/*
 * vsnprintf for the kernels. Portable (host unit tests compare it with the C
 * library's). Output goes through a small cursor that counts every byte it
 * would have written, so truncation is handled in one place.
 */
#include <lib/printf.h>
#include <stdbool.h>
#include <stdint.h>

struct out {
	char *buf;
	size_t size;
	size_t len; /* bytes the full output needs so far */
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

struct spec {
	bool left, zero, plus, space, alt;
	int width;
	int prec; /* -1: none */
};

static void out_str(struct out *o, const struct spec *sp, const char *s)
{
	size_t n = 0;

	if (!s)
		s = "(null)";
	while (s[n] && (sp->prec < 0 || n < (size_t)sp->prec))
		n++;
	if (!sp->left)
		out_pad(o, ' ', sp->width - (int)n);
	for (size_t i = 0; i < n; i++)
		out_char(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - (int)n);
}

static void out_num(struct out *o, const struct spec *sp, uint64_t v, bool neg,
		    unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	const char *prefix = "";
	bool zero = v == 0;
	int ndigits, total;

	if (v == 0 && sp->prec == 0)
		n = 0;
	else
		do {
			tmp[n++] = digits[v % base];
			v /= base;
		} while (v);

	if (neg)
		prefix = "-";
	else if (sp->plus)
		prefix = "+";
	else if (sp->space)
		prefix = " ";
	if (sp->alt && base == 16 && !zero) /* C: no 0x for a zero value */
		prefix = upper ? "0X" : "0x";
	if (sp->alt && base == 8 && (n == 0 || tmp[n - 1] != '0'))
		tmp[n++] = '0';

	ndigits = sp->prec > n ? sp->prec : n;
	total = ndigits + (int)__builtin_strlen(prefix);

	if (!sp->left && !(sp->zero && sp->prec < 0))
		out_pad(o, ' ', sp->width - total);
	for (const char *p = prefix; *p; p++)
		out_char(o, *p);
	if (!sp->left && sp->zero && sp->prec < 0)
		out_pad(o, '0', sp->width - total);
	out_pad(o, '0', ndigits - n);
	while (n)
		out_char(o, tmp[--n]);
	if (sp->left)
		out_pad(o, ' ', sp->width - total);
}

/* Reads the flags, width and precision at *fmt into sp; returns the rest. */
static const char *parse_spec(const char *fmt, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){ .prec = -1 };
	for (;; fmt++) {
		if (*fmt == '-')
			sp->left = true;
		else if (*fmt == '0')
			sp->zero = true;
		else if (*fmt == '+')
			sp->plus = true;
		else if (*fmt == ' ')
			sp->space = true;
		else if (*fmt == '#')
			sp->alt = true;
		else
			break;
	}
	if (*fmt == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		fmt++;
	} else {
		while (*fmt >= '0' && *fmt <= '9')
			sp->width = sp->width * 10 + (*fmt++ - '0');
	}
	if (*fmt == '.') {
		fmt++;
		sp->prec = 0;
		if (*fmt == '*') {
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->prec = -1;
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				sp->prec = sp->prec * 10 + (*fmt++ - '0');
		}
	}
	return fmt;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap0)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_copy(ap, ap0);
	while (*fmt) {
		struct spec sp;
		int lng = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long */
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			out_char(&o, *fmt++);
			continue;
		}
		fmt = parse_spec(fmt + 1, &sp, &ap);
		for (;; fmt++) {
			if (*fmt == 'h')
				lng--;
			else if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z' || *fmt == 't')
				lng = 1;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			if (lng >= 1)
				s = lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
			else
				s = va_arg(ap, int);
			if (lng == -1)
				s = (short)s;
			else if (lng <= -2)
				s = (signed char)s;
			u = s < 0 ? -(uint64_t)s : (uint64_t)s;
			out_num(&o, &sp, u, s < 0, 10, false);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lng >= 1)
				u = lng == 1 ? va_arg(ap, unsigned long)
					     : va_arg(ap, unsigned long long);
			else
				u = va_arg(ap, unsigned int);
			if (lng == -1)
				u = (unsigned short)u;
			else if (lng <= -2)
				u = (unsigned char)u;
			sp.plus = sp.space = false; /* signed conversions only */
			out_num(&o, &sp, u, false,
				*fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, *fmt == 'X');
			break;
		case 'p':
			sp.alt = true;
			out_num(&o, &sp, (uintptr_t)va_arg(ap, void *), false, 16, false);
			break;
		case 's':
			out_str(&o, &sp, va_arg(ap, const char *));
			break;
		case 'c': {
			char c[2] = { (char)va_arg(ap, int), 0 };

			sp.prec = 1;
			if (c[0] == 0) { /* a NUL character still takes its place */
				out_pad(&o, ' ', sp.left ? 0 : sp.width - 1);
				out_char(&o, 0);
				out_pad(&o, ' ', sp.left ? sp.width - 1 : 0);
			} else {
				out_str(&o, &sp, c);
			}
			break;
		}
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default: /* unknown conversion: print it as it was */
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
		fmt++;
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
