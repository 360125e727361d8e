/* The native parser of the tab-separated formats: a chunk of whole lines in, typed columns out.
 *
 * It classifies every line the way streamstats.parse.ChunkParser does (the reference, which the
 * differential tests and the fuzz target compare it with) and returns the good lines' fields as one
 * Arrow struct array (C Data Interface: polars imports it without a Python object per field), the
 * per-line reject reasons and the first line of each reason. Strings are Arrow string views (polars' own
 * layout): a value of up to 12 bytes sits in its view, a longer one is copied into its column's buffer
 * (as polars' CSV reader does: a column kept for long keeps its own strings alive, not the chunk).
 * Where it cannot be sure to agree with the reference (a duration list of four or more numbers, whose
 * float sum polars orders its own way; a byte outside ASCII in a duration that is not a plain number)
 * it returns None and the caller parses the chunk with polars.
 *
 * It also numbers the string key columns the agent counts: a `Dictionary` per column and batch (values,
 * cut to the key's length, to integer codes in order of first appearance) is filled from the column's
 * views once the lines are parsed, and the codes of the good lines come back as an array that numpy
 * reads as it is.
 *
 * Every read is bounded by the line's end, which is bounded by the chunk's: no NUL terminator is
 * relied on. Field text is only ever read between a start and an end pointer of the same line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Reject reasons, in the order the reference decides them. */
enum { GOOD = 0, BINARY = 1, FIELD_COUNT = 2, INVALID_TIMESTAMP = 3, INVALID_NUMBER = 4, REASONS = 5 };
/* Field kinds, as the caller spells them. */
enum { K_STRING = 'S', K_INT = 'I', K_INT_OPT = 'i', K_DURATION = 'D', K_DURATION_OPT = 'd', K_TIMESTAMP = 'T' };
/* What a number field parses to. */
enum { NUM_OK = 0, NUM_NULL = 1, NUM_BAD = 2, NUM_UNSURE = 3 };

#define MAX_FIELDS 256
#define MAX_NUMBER_TEXT 512 /* longer numbers are copied to the heap for strtod */

/* ---- the Arrow C Data Interface (https://arrow.apache.org/docs/format/CDataInterface.html) ---- */
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

#define ARROW_FLAG_NULLABLE 2

/* ---- output columns ---- */
#define VIEW_INLINE 12 /* an Arrow string view holds up to 12 bytes itself */

typedef struct Dictionary Dictionary;

typedef struct {
    int kind;
    int64_t *values;   /* numbers: one per good line */
    uint8_t *validity; /* optional numbers: a bitmap, allocated at the first null */
    int64_t nulls;
    uint8_t *views;    /* strings: 16 bytes per good line */
    char *data;        /* strings: the values longer than a view holds */
    size_t data_len, data_cap;
    int64_t *data_size; /* the view array's last buffer: the size of its data buffer */
    Dictionary *dictionary; /* strings to number, or NULL */
    Py_ssize_t *codes;      /* their codes, one per good line (a bytes object's buffer) */
    int unnumbered;         /* the dictionary filled up during this chunk: no codes */
} Column;

static void column_free(Column *c) {
    free(c->values);
    free(c->validity);
    free(c->views);
    free(c->data);
    free(c->data_size);
    memset(c, 0, sizeof *c);
}

/* The low n bytes of a word (n < 8). */
static uint64_t low_bytes(uint64_t word, int32_t n) { return word & ((UINT64_C(1) << (8 * n)) - 1); }

/* The first two words of the view of a value of n <= 12 bytes at s, read as 12 bytes and masked where
 * the chunk has 12 bytes from s (`room`): no call to memcpy of a variable length. The bytes past the
 * value are zeros. 0 when the chunk is too short there (the caller copies). */
static int short_words(const char *s, int32_t n, ptrdiff_t room, uint64_t *first, uint64_t *tail) {
    if (room < VIEW_INLINE) return 0;
    uint32_t head;
    memcpy(&head, s, 4);
    memcpy(tail, s + 4, 8);
    head = n >= 4 ? head : (uint32_t)low_bytes(head, n);
    *tail = n >= 12 ? *tail : n <= 4 ? 0 : low_bytes(*tail, n - 4);
    *first = (uint64_t)(uint32_t)n | (uint64_t)head << 32;
    return 1;
}

/* Append [s, s + n) to a buffer that doubles as it fills (from `first` bytes); -1 out of memory. */
static int append_bytes(char **data, size_t *len, size_t *cap, size_t first, const char *s, size_t n) {
    if (n > *cap - *len) {
        size_t grown = *cap ? *cap : first;
        while (n > grown - *len) grown *= 2;
        char *more = realloc(*data, grown);
        if (!more) return -1;
        *data = more;
        *cap = grown;
    }
    memcpy(*data + *len, s, n);
    *len += n;
    return 0;
}

/* The view of [s, s + n) (n < 2^31: the chunk is shorter), its bytes in the view or in the column's
 * buffer (which stays under 2 GiB for the same reason: it holds parts of the chunk's lines). The bytes
 * of a view past the value are zeros. */
static int string_view(Column *c, int64_t row, const char *s, int32_t n, ptrdiff_t room) {
    uint8_t *view = c->views + 16 * row;
    uint64_t first, tail;
    if (n <= VIEW_INLINE && short_words(s, n, room, &first, &tail)) {
        memcpy(view, &first, 8);
        memcpy(view + 8, &tail, 8);
        return 0;
    }
    memset(view, 0, 16);
    memcpy(view, &n, 4);
    if (n <= VIEW_INLINE) {
        memcpy(view + 4, s, (size_t)n);
        return 0;
    }
    if (append_bytes(&c->data, &c->data_len, &c->data_cap, 65536, s, (size_t)n) < 0) return -1;
    int32_t offset = (int32_t)(c->data_len - (size_t)n); /* in data buffer 0 */
    memcpy(view + 4, s, 4);
    memcpy(view + 12, &offset, 4);
    return 0;
}

/* ---- the per-batch dictionaries of string keys ----
 *
 * An open-addressing hash table from values (cut to `max_chars` characters, as the agent cuts keys) to
 * codes 0, 1, 2... in order of first appearance; it owns copies of its values. A value is its 16-byte
 * key: the length and first 4 bytes, then the next 8 bytes (values of up to 12 bytes, compared as two
 * words) or the offset of the value in `data` (longer ones, compared by hash, then word by word). Each
 * slot of the table holds a key, its hash and its code + 1 (0: empty) in 32 bytes, so that a lookup
 * reads one cache line; the table is at most half full, probed triangularly (every slot of a power of
 * two is reached), with a hash seeded per process. The keys are also kept by code, for `values`.
 *
 * A hostile log must not make it grow without bound, nor slow: a value that would pass `max_values`
 * or `max_bytes`, or need more than MAX_PROBES probes (collisions), is not added and the dictionary says
 * it is full: the column's codes of that chunk are not returned, and the agent counts the chunk with
 * polars (as without codes). */
/* Default caps: 262,144 values and 8 MiB of their bytes, so at most 28 MiB a dictionary (16 MiB of slots,
 * 4 MiB of keys by code, the bytes). A batch ends long before with real logs (at max_batch_rows counter
 * rows, each distinct value of a key making one at least). */
#define DICTIONARY_VALUES (1 << 18)
#define DICTIONARY_BYTES (1 << 23)
#define MAX_PROBES 64
#define DICTIONARY_FULL (-2)

typedef struct {
    uint64_t head; /* length | first 4 bytes << 32 */
    uint64_t tail; /* bytes 4 to 11 (zeros past the value), or the offset of a longer value in data */
} Key;

typedef struct {
    Key key;
    uint64_t hash;
    uint32_t code; /* + 1; 0: an empty slot */
    uint32_t unused;
} Slot;

struct Dictionary {
    PyObject_HEAD
    Slot *slots;
    Key *keys; /* by code */
    size_t size, keys_cap, mask; /* mask: slots - 1 */
    int shift;                   /* 64 - log2(slots): a hash's high bits pick its slot */
    char *data;                  /* the values longer than 12 bytes */
    size_t data_len, data_cap, bytes;
    Py_ssize_t max_values, max_bytes; /* >= 0 */
    int max_chars;
    int busy; /* a parse fills it, with the GIL released: nothing else may touch it meanwhile */
};

static PyObject *DictionaryFull;
static uint64_t hash_seed;

#define K1 UINT64_C(0x9E3779B97F4A7C15)
#define K2 UINT64_C(0xC2B2AE3D27D4EB4F)

/* wyhash's mix: the two halves of a 128-bit product, xored (every bit of either word reaches the
 * result's high bits, which pick the slot). */
static uint64_t mix(uint64_t a, uint64_t b) {
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

static uint64_t hash_short(uint64_t head, uint64_t tail) { return mix(head ^ hash_seed, tail ^ K1 ^ hash_seed); }

static uint64_t word_at(const char *s) {
    uint64_t word;
    memcpy(&word, s, 8);
    return word;
}

/* A value of more than 12 bytes, eight at a time, then its last eight (which may overlap what was
 * hashed: every read stays within the value). */
static uint64_t hash_long(const char *s, int32_t n) {
    uint64_t h = hash_seed ^ (uint64_t)n;
    for (int32_t i = 0; n - i > 8; i += 8) h = mix(h ^ word_at(s + i), K1);
    return mix(h ^ word_at(s + n - 8), K2);
}

/* Whether the n > 8 bytes at a and b are the same, eight at a time. */
static int same_long(const char *a, const char *b, int32_t n) {
    for (int32_t i = 0; n - i > 8; i += 8)
        if (word_at(a + i) != word_at(b + i)) return 0;
    return word_at(a + n - 8) == word_at(b + n - 8);
}

/* The bytes of the first max_chars characters of a valid UTF-8 value (a good line's field). */
static int32_t cut_chars(const char *s, int32_t n, int32_t max_chars) {
    if (n <= max_chars) return n;
    int32_t chars = 0;
    for (int32_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max_chars) return i;
    return n;
}

/* A value's bytes: in data, or in `local` (16 bytes) from its key. */
static const char *key_bytes(const Dictionary *d, const Key *k, int32_t n, char *local) {
    if (n > VIEW_INLINE) return d->data + k->tail;
    memcpy(local, &k->head, 8);
    memcpy(local + 8, &k->tail, 8);
    return local + 4; /* past the length */
}

/* The empty slot for `hash` in a table of mask + 1 slots; SIZE_MAX when it takes too many probes. */
static size_t empty_slot(const Slot *slots, size_t mask, int shift, uint64_t hash) {
    size_t at = (size_t)(hash >> shift);
    for (size_t probe = 1; probe <= MAX_PROBES; probe++) {
        if (!slots[at].code) return at;
        at = (at + probe) & mask;
    }
    return SIZE_MAX;
}

/* Twice the slots; DICTIONARY_FULL (the old table kept) when a value needs too many probes there. */
static int grow(Dictionary *d) {
    size_t mask = d->mask * 2 + 1;
    int shift = d->shift - 1;
    Slot *slots = calloc(mask + 1, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i <= d->mask; i++) {
        if (!d->slots[i].code) continue;
        size_t at = empty_slot(slots, mask, shift, d->slots[i].hash);
        if (at == SIZE_MAX) {
            free(slots);
            return DICTIONARY_FULL;
        }
        slots[at] = d->slots[i];
    }
    free(d->slots);
    d->slots = slots;
    d->mask = mask;
    d->shift = shift;
    return 0;
}

/* Add [s, s + n) with key k and hash as code d->size; -1 out of memory, DICTIONARY_FULL past a cap or
 * where it collides too often. */
__attribute__((noinline, cold)) static int64_t add(Dictionary *d, const char *s, int32_t n, Key *k,
                                                   uint64_t hash) {
    if (d->size >= (size_t)d->max_values || (size_t)n > (size_t)d->max_bytes - d->bytes) return DICTIONARY_FULL;
    if ((d->size + 1) * 2 > d->mask + 1) {
        int rc = grow(d);
        if (rc < 0) return rc;
    }
    size_t at = empty_slot(d->slots, d->mask, d->shift, hash);
    if (at == SIZE_MAX) return DICTIONARY_FULL;
    if (d->size == d->keys_cap) {
        size_t cap = d->keys_cap ? d->keys_cap * 2 : 64;
        Key *keys = realloc(d->keys, cap * sizeof *keys);
        if (!keys) return -1;
        d->keys = keys;
        d->keys_cap = cap;
    }
    if (n > VIEW_INLINE) {
        k->tail = d->data_len;
        if (append_bytes(&d->data, &d->data_len, &d->data_cap, 4096, s, (size_t)n) < 0) return -1;
    }
    d->keys[d->size] = *k;
    d->bytes += (size_t)n;
    d->slots[at] = (Slot){*k, hash, (uint32_t)d->size + 1, 0};
    return (int64_t)d->size++;
}

/* A value to look up: its length once cut, its key and hash. */
typedef struct {
    int32_t n;
    Key key;
    uint64_t hash;
} Probe;

/* The probe of the value [s, s + n) whose Arrow view is `view`, cut to the dictionary's length: the key
 * of a value is its view's first 8 bytes, then the next 8 for a value of up to 12 bytes. */
__attribute__((always_inline)) static inline void probe_of(const Dictionary *d, const char *s, int32_t n,
                                                           const uint8_t *view, Probe *p) {
    memcpy(&p->key.head, view, 8);
    memcpy(&p->key.tail, view + 8, 8);
    if (n > d->max_chars) {
        n = cut_chars(s, n, d->max_chars);
        char local[16] = {0};
        memcpy(local, &n, 4);
        memcpy(local + 4, s, (size_t)(n <= VIEW_INLINE ? n : 4));
        memcpy(&p->key.head, local, 8);
        memcpy(&p->key.tail, local + 8, 8);
    }
    p->n = n;
    if (n > VIEW_INLINE) {
        p->key.tail = 0;
        p->hash = hash_long(s, n);
    } else {
        p->hash = hash_short(p->key.head, p->key.tail);
    }
}

/* The code of the value at s with probe p, added when new; -1 out of memory, DICTIONARY_FULL when it
 * cannot be added. */
__attribute__((always_inline)) static inline int64_t code_of(Dictionary *d, const char *s, Probe *p) {
    size_t at = (size_t)(p->hash >> d->shift);
    for (size_t probe = 1; probe <= MAX_PROBES; probe++) {
        const Slot *slot = &d->slots[at];
        if (!slot->code) break;
        if (slot->key.head == p->key.head &&
            (p->n > VIEW_INLINE ? slot->hash == p->hash && same_long(d->data + slot->key.tail, s, p->n)
                                : slot->key.tail == p->key.tail))
            return slot->code - 1;
        at = (at + probe) & d->mask;
    }
    return add(d, s, p->n, &p->key, p->hash);
}

/* The code of [s, s + n) (its view is made here). */
static int64_t dictionary_code(Dictionary *d, const char *s, int32_t n) {
    uint8_t view[16] = {0};
    memcpy(view, &n, 4);
    memcpy(view + 4, s, (size_t)(n <= VIEW_INLINE ? n : 4));
    Probe p;
    probe_of(d, s, n, view, &p);
    return code_of(d, s, &p);
}

/* Column c's codes, from its views: a column at a time, its dictionary's table stays in the cache (line
 * by line, the 13 tables of the agent's keys cost three times as much). -1 out of memory; a dictionary
 * that becomes full leaves the column unnumbered. */
static int number_column(Column *c, int64_t rows) {
    for (int64_t row = 0; row < rows; row++) {
        const uint8_t *view = c->views + 16 * row;
        int32_t n, offset;
        memcpy(&n, view, 4);
        memcpy(&offset, view + 12, 4);
        const char *s = n <= VIEW_INLINE ? (const char *)view + 4 : c->data + offset;
        Probe p;
        probe_of(c->dictionary, s, n, view, &p);
        int64_t code = code_of(c->dictionary, s, &p);
        if (code == -1) return -1;
        if (code == DICTIONARY_FULL) {
            c->unnumbered = 1;
            return 0;
        }
        c->codes[row] = (Py_ssize_t)code;
    }
    return 0;
}

static PyObject *dictionary_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"max_chars", "max_values", "max_bytes", NULL};
    int max_chars;
    Py_ssize_t max_values = DICTIONARY_VALUES, max_bytes = DICTIONARY_BYTES;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|nn:Dictionary", keywords, &max_chars, &max_values,
                                     &max_bytes))
        return NULL;
    if (max_chars < 1 || max_values < 0 || max_values > INT32_MAX || max_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "max_chars >= 1, 0 <= max_values < 2^31, max_bytes >= 0");
        return NULL;
    }
    Dictionary *d = (Dictionary *)type->tp_alloc(type, 0);
    if (!d) return NULL;
    d->mask = 63;
    d->shift = 64 - 6;
    d->slots = calloc(d->mask + 1, sizeof *d->slots);
    if (!d->slots) {
        Py_DECREF(d);
        return PyErr_NoMemory();
    }
    d->max_chars = max_chars;
    d->max_values = max_values;
    d->max_bytes = max_bytes;
    return (PyObject *)d;
}

static void dictionary_dealloc(Dictionary *d) {
    free(d->keys);
    free(d->slots);
    free(d->data);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static Py_ssize_t dictionary_len(Dictionary *d) { return (Py_ssize_t)d->size; }

static int dictionary_idle(Dictionary *d) {
    if (!d->busy) return 1;
    PyErr_SetString(PyExc_RuntimeError, "the Dictionary is being filled by a parse");
    return 0;
}

PyDoc_STRVAR(encode_doc, "encode(values) -> list of codes\n\n"
                         "The codes of a sequence of str (cut to max_chars characters), added when new.\n"
                         "DictionaryFull when one cannot be added (the values before it stay).");

static PyObject *dictionary_encode(Dictionary *d, PyObject *values) {
    if (!dictionary_idle(d)) return NULL;
    PyObject *seq = PySequence_Fast(values, "encode takes a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t i = 0; out && i < count; i++) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(seq, i), &n);
        if (s && n > INT32_MAX / 2) {
            PyErr_SetString(PyExc_ValueError, "a value of 1 GiB or more");
            s = NULL;
        }
        int64_t code = s ? dictionary_code(d, s, (int32_t)n) : -3;
        PyObject *item = code >= 0 ? PyLong_FromLongLong(code) : NULL;
        if (code == -1) PyErr_NoMemory();
        if (code == DICTIONARY_FULL) PyErr_SetString(DictionaryFull, "the Dictionary is full");
        if (!item) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, item);
    }
    Py_DECREF(seq);
    return out;
}

/* The codes of one string-view array (no nulls) appended to out; -1 with an exception set. */
static int encode_views(Dictionary *d, const struct ArrowArray *a, Py_ssize_t *out) {
    if (a->null_count != 0 || a->n_buffers < 3 || a->offset < 0 || a->length < 0) {
        PyErr_SetString(PyExc_ValueError, "encode_column takes a string-view column without nulls");
        return -1;
    }
    const uint8_t *views = a->buffers[1];
    const int64_t buffers = a->n_buffers - 3; /* validity, views, data buffers..., their sizes */
    const int64_t *sizes = a->buffers[a->n_buffers - 1];
    for (int64_t row = 0; row < a->length; row++) {
        const uint8_t *view = views + 16 * (a->offset + row);
        int32_t n, buffer, offset;
        memcpy(&n, view, 4);
        memcpy(&buffer, view + 8, 4);
        memcpy(&offset, view + 12, 4);
        const char *s = (const char *)view + 4;
        if (n > VIEW_INLINE) {
            if (buffer < 0 || buffer >= buffers || offset < 0 || n > sizes[buffer] - offset) {
                PyErr_SetString(PyExc_ValueError, "a string view points past its buffer");
                return -1;
            }
            s = (const char *)a->buffers[2 + buffer] + offset;
        } else if (n < 0) {
            PyErr_SetString(PyExc_ValueError, "a string view of negative length");
            return -1;
        }
        Probe p;
        probe_of(d, s, n, view, &p);
        int64_t code = code_of(d, s, &p);
        if (code == -1) PyErr_NoMemory();
        if (code == DICTIONARY_FULL) PyErr_SetString(DictionaryFull, "the Dictionary is full");
        if (code < 0) return -1;
        out[row] = (Py_ssize_t)code;
    }
    return 0;
}

/* The codes of every array of the stream, as one bytes object; NULL with an exception set. */
static PyObject *encode_stream(Dictionary *d, struct ArrowArrayStream *stream, Py_ssize_t length) {
    struct ArrowSchema schema;
    if (stream->get_schema(stream, &schema)) {
        PyErr_SetString(PyExc_ValueError, "the column's Arrow stream gave no schema");
        return NULL;
    }
    int views = strcmp(schema.format, "vu") == 0;
    schema.release(&schema);
    if (!views) {
        PyErr_SetString(PyExc_ValueError, "encode_column takes a string-view (vu) column");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, length * (Py_ssize_t)sizeof(Py_ssize_t));
    Py_ssize_t *codes = out ? (Py_ssize_t *)PyBytes_AS_STRING(out) : NULL, done = 0;
    while (out) {
        struct ArrowArray array;
        if (stream->get_next(stream, &array)) {
            PyErr_SetString(PyExc_ValueError, "the column's Arrow stream failed");
            Py_CLEAR(out);
            break;
        }
        if (!array.release) break; /* the end of the stream */
        if (array.length > length - done) {
            PyErr_SetString(PyExc_ValueError, "the column's Arrow stream is longer than the column");
            Py_CLEAR(out);
        } else if (encode_views(d, &array, codes + done) < 0) {
            Py_CLEAR(out);
        } else {
            done += (Py_ssize_t)array.length;
        }
        array.release(&array);
    }
    if (out && done != length) {
        PyErr_SetString(PyExc_ValueError, "the column's Arrow stream is shorter than the column");
        Py_CLEAR(out);
    }
    return out;
}

PyDoc_STRVAR(encode_column_doc, "encode_column(column) -> bytes\n\n"
                                "The codes (native ssize_t) of a string column without nulls that exports an Arrow\n"
                                "string-view stream (__arrow_c_stream__, such as a polars Series; len() its length),\n"
                                "values cut to max_chars characters, added when new. DictionaryFull when one cannot be\n"
                                "added (the values before it stay).");

static PyObject *dictionary_encode_column(Dictionary *d, PyObject *column) {
    if (!dictionary_idle(d)) return NULL;
    Py_ssize_t length = PyObject_Length(column);
    if (length < 0) return NULL;
    PyObject *capsule = PyObject_CallMethod(column, "__arrow_c_stream__", NULL);
    if (!capsule) return NULL;
    struct ArrowArrayStream *stream = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    PyObject *out = NULL;
    if (stream && stream->release) {
        out = encode_stream(d, stream, length);
        stream->release(stream); /* released: the capsule's destructor leaves it */
    } else if (stream) {
        PyErr_SetString(PyExc_ValueError, "the column's Arrow stream was released already");
    }
    Py_DECREF(capsule);
    return out;
}

PyDoc_STRVAR(values_doc, "values(start=0) -> list of str\n\nThe values of codes start, start + 1, ... in order.");

static PyObject *dictionary_values(Dictionary *d, PyObject *args) {
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "|n:values", &start) || !dictionary_idle(d)) return NULL;
    if (start < 0 || (size_t)start > d->size) {
        PyErr_SetString(PyExc_IndexError, "start out of range");
        return NULL;
    }
    PyObject *out = PyList_New((Py_ssize_t)d->size - start);
    for (size_t code = (size_t)start; out && code < d->size; code++) {
        const Key *k = &d->keys[code];
        int32_t n = (int32_t)(uint32_t)k->head;
        char local[16];
        PyObject *value = PyUnicode_DecodeUTF8(key_bytes(d, k, n, local), n, "strict");
        if (!value) Py_CLEAR(out);
        else PyList_SET_ITEM(out, (Py_ssize_t)code - start, value);
    }
    return out;
}

PyDoc_STRVAR(take_doc, "take(codes) -> (schema capsule, array capsule)\n\n"
                        "The values of `codes` (a buffer of native ssize_t, such as a numpy intp array) as an Arrow\n"
                        "string-view array, through the Arrow PyCapsule interface: polars imports it without a\n"
                        "Python object per value. IndexError for a code the Dictionary does not hold.");

static PyObject *dictionary_take(Dictionary *d, PyObject *codes); /* with the export, below */

static PyMemberDef dictionary_members[] = {
    {"max_chars", T_INT, offsetof(Dictionary, max_chars), READONLY, "values are cut to this many characters"},
    {"max_values", T_PYSSIZET, offsetof(Dictionary, max_values), READONLY, "the most values it takes"},
    {"max_bytes", T_PYSSIZET, offsetof(Dictionary, max_bytes), READONLY, "the most bytes of values it takes"},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef dictionary_methods[] = {
    {"encode", (PyCFunction)dictionary_encode, METH_O, encode_doc},
    {"encode_column", (PyCFunction)dictionary_encode_column, METH_O, encode_column_doc},
    {"values", (PyCFunction)dictionary_values, METH_VARARGS, values_doc},
    {"take", (PyCFunction)dictionary_take, METH_O, take_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods dictionary_sequence = {.sq_length = (lenfunc)dictionary_len};

PyDoc_STRVAR(dictionary_doc,
             "Dictionary(max_chars, max_values=262144, max_bytes=8388608)\n\n"
             "String values (cut to max_chars characters) numbered 0, 1, 2... in order of first appearance,\n"
             "filled by parse() and encode(). It holds at most max_values values of max_bytes bytes in all:\n"
             "past that, or where a value collides too often, it is full (see parse and encode).");

static PyTypeObject DictionaryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streamstats._tsv.Dictionary",
    .tp_basicsize = sizeof(Dictionary),
    .tp_dealloc = (destructor)dictionary_dealloc,
    .tp_as_sequence = &dictionary_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = dictionary_doc,
    .tp_methods = dictionary_methods,
    .tp_members = dictionary_members,
    .tp_new = dictionary_new,
};

/* ---- numbers, with the grammar polars' casts accept ---- */
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static const char *skip_spaces(const char *s, const char *e) {
    while (s < e && *s == ' ') s++;
    return s;
}

/* An Int64 cast: [+-]?[0-9]+ in range; the reference then wants it >= 0 ("-0" is 0). */
static int parse_int(const char *s, const char *e, int64_t *out) {
    int negative = 0;
    if (s < e && (*s == '+' || *s == '-')) negative = *s++ == '-';
    if (s == e) return NUM_BAD;
    uint64_t value = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; s < e; s++) {
        if (!is_digit(*s)) return NUM_BAD;
        unsigned d = (unsigned)(*s - '0');
        if (value > (limit - d) / 10) return NUM_BAD; /* the cast gives null on overflow */
        value = value * 10 + d;
    }
    if (negative) return value == 0 ? (*out = 0, NUM_OK) : NUM_BAD;
    *out = (int64_t)value;
    return NUM_OK;
}

/* The decimal grammar of a Float64 cast: [+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?. The other text it accepts
 * (inf, infinity, nan in any case) is never finite, which every caller rejects the same as null. */
static int is_decimal(const char *s, const char *e) {
    const char *p = s;
    if (p < e && (*p == '+' || *p == '-')) p++;
    const char *digits = p;
    while (p < e && is_digit(*p)) p++;
    int whole = p > digits;
    int fraction = 0;
    if (p < e && *p == '.') {
        p++;
        const char *f = p;
        while (p < e && is_digit(*p)) p++;
        fraction = p > f;
    }
    if (!whole && !fraction) return 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        const char *x = p;
        while (p < e && is_digit(*p)) p++;
        if (p == x) return 0;
    }
    return p == e;
}

/* Exact powers of ten in a double. */
static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A decimal [+-]?(D+(.D*)?|.D+) without exponent and with at most 15 significant digits, and so
 * exactly an integer below 2^53 divided by a power of ten of at most 22: one division of two exact
 * doubles, which IEEE rounds correctly (Clinger's fast path). 0 when the text is not of that kind. */
static int fast_double(const char *s, const char *e, double *out) {
    int negative = 0, digits = 0, scale = 0, dot = 0, any = 0;
    uint64_t mantissa = 0;
    if (s < e && (*s == '+' || *s == '-')) negative = *s++ == '-';
    for (; s < e; s++) {
        if (*s == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (!is_digit(*s)) return 0;
        any = 1;
        if (mantissa || *s != '0') {
            if (++digits > 15) return 0;
            mantissa = mantissa * 10 + (uint64_t)(*s - '0');
        }
        scale += dot;
    }
    if (!any || scale > 22) return 0;
    double value = (double)mantissa / POW10[scale];
    *out = negative ? -value : value;
    return 1;
}

/* strtod on a NUL-terminated copy (glibc's is correctly rounded, as polars' parser is). */
static int to_double(const char *s, const char *e, double *out) {
    if (fast_double(s, e, out)) return 0;
    size_t n = (size_t)(e - s);
    char local[MAX_NUMBER_TEXT + 1];
    char *text = n <= MAX_NUMBER_TEXT ? local : malloc(n + 1);
    if (!text) return -1;
    memcpy(text, s, n);
    text[n] = '\0';
    *out = strtod(text, NULL);
    if (text != local) free(text);
    return 0;
}

static int parse_float(const char *s, const char *e, double *out) {
    if (fast_double(s, e, out)) return NUM_OK; /* finite */
    if (!is_decimal(s, e)) return NUM_BAD;
    if (to_double(s, e, out) < 0) return -1;
    return isfinite(*out) ? NUM_OK : NUM_BAD;
}

static int is_list_space(char ch) { return ch == ' ' || ch == '\v' || ch == '\f'; }

/* nginx's list of upstream times, "0.010, 0.020 : 0.005": the reference matches
 * ^N(\s*[,:]\s*N)*$ with N = [0-9]+(\.[0-9]+)? and sums the numbers with polars, which adds three
 * from left to right (and more in an order of its own: the reference decides those). */
static int parse_duration_list(const char *s, const char *e, double *sum) {
    double parts[3];
    int count = 0;
    const char *p = s;
    for (;;) {
        const char *n = p;
        while (p < e && is_digit(*p)) p++;
        if (p == n) return NUM_BAD;
        if (p < e && *p == '.') {
            const char *f = ++p;
            while (p < e && is_digit(*p)) p++;
            if (p == f) return NUM_BAD;
        }
        if (count == 3) return NUM_UNSURE;
        if (to_double(n, p, &parts[count++]) < 0) return -1;
        if (p == e) break;
        while (p < e && is_list_space(*p)) p++;
        if (p == e || (*p != ',' && *p != ':')) return NUM_BAD;
        p++;
        while (p < e && is_list_space(*p)) p++;
    }
    *sum = parts[0];
    for (int i = 1; i < count; i++) *sum += parts[i];
    return NUM_OK;
}

static int has_non_ascii(const char *s, const char *e) {
    for (; s < e; s++)
        if ((unsigned char)*s >= 0x80) return 1;
    return 0;
}

/* x (0 <= x < 2^52) to the nearest integer, ties to even, as polars' round() and the default IEEE
 * rounding do: adding and taking away 2^52 leaves no fraction bits (no call to nearbyint). */
static int64_t round_half_even(double x) {
    volatile double shifted = x + 0x1p52; /* volatile: computed in double, never folded away */
    return (int64_t)(shifted - 0x1p52);
}

/* Seconds with a fraction to integer milliseconds (rounded half to even, as polars rounds). */
static int parse_duration(const char *s, const char *e, int optional, int64_t *out) {
    if (optional && e - s == 1 && *s == '-') return NUM_NULL;
    double seconds;
    int rc = parse_float(skip_spaces(s, e), e, &seconds);
    if (rc < 0) return rc;
    if (rc != NUM_OK || !(seconds >= 0 && seconds < 1e9)) {
        rc = parse_duration_list(s, e, &seconds);
        if (rc == NUM_BAD && has_non_ascii(s, e)) return NUM_UNSURE; /* \s is Unicode in the regex */
        if (rc != NUM_OK) return rc;
        if (!(seconds >= 0 && seconds < 1e9)) return NUM_BAD;
    }
    *out = round_half_even(seconds * 1000.0);
    return NUM_OK;
}

/* ---- lines ---- */
static int utf8_sequence(const unsigned char *p, const unsigned char *e) {
    /* The length of a valid UTF-8 sequence at p (strict, as Python's decoder), 0 if invalid. */
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (e - p < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* NUL, CR or invalid UTF-8 anywhere in [s, e). */
static int is_binary(const char *s, const char *e) {
    const unsigned char *p = (const unsigned char *)s, *end = (const unsigned char *)e;
    while (p < end) {
        if (*p == 0 || *p == '\r') return 1;
        int n = utf8_sequence(p, end);
        if (!n) return 1;
        p += n;
    }
    return 0;
}

typedef struct {
    const char *start[MAX_FIELDS];
    const char *end[MAX_FIELDS];
} Fields;

static int is_suspect(unsigned char ch) { return ch == 0 || ch == '\r' || ch >= 0x80; }

/* Record the tab at `tab` as the end of field `*tabs` (while there is room for n fields). */
static void add_tab(Fields *f, int n, int *tabs, const char *tab) {
    if (*tabs + 1 < n) {
        f->end[*tabs] = tab;
        f->start[*tabs + 1] = tab + 1;
    }
    (*tabs)++;
}

/* One pass over the line at s: its tabs into f (the first n - 1 of them), their number into *tabs,
 * whether it holds a byte is_binary must look at (NUL, CR, >= 0x80) into *suspect; returns its newline,
 * which lies before end (the chunk ends with one). Sixteen bytes at a time where SSE2 is there. */
static const char *scan_line(const char *s, const char *end, int n, Fields *f, int *tabs, int *suspect) {
    const char *p = s;
    *tabs = 0;
    *suspect = 0;
    f->start[0] = s;
#if defined(__SSE2__)
    const __m128i tab = _mm_set1_epi8('\t'), newline = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    const __m128i zero = _mm_setzero_si128();
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned tabs_at = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tab));
        unsigned newline_at = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline));
        unsigned odd_at = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(v, _mm_or_si128(_mm_cmpeq_epi8(v, zero), _mm_cmpeq_epi8(v, cr))));
        unsigned before = newline_at ? (newline_at & -newline_at) - 1 : 0xFFFFu;
        tabs_at &= before;
        if (odd_at & before) *suspect = 1;
        while (tabs_at) {
            add_tab(f, n, tabs, p + __builtin_ctz(tabs_at));
            tabs_at &= tabs_at - 1;
        }
        if (newline_at) return p + __builtin_ctz(newline_at);
        p += 16;
    }
#endif
    for (; p < end && *p != '\n'; p++) { /* p < end: always, the chunk ending with a newline */
        if (*p == '\t') add_tab(f, n, tabs, p);
        else if (is_suspect((unsigned char)*p)) *suspect = 1;
    }
    return p;
}

typedef struct {
    int n;
    const char *kinds;
    const char *end; /* the chunk's */
    double ts_low, ts_high;
    Column cols[MAX_FIELDS];
    int64_t good;
} Parser;

static int set_null(Column *c, int64_t row, int64_t rows) {
    if (!c->validity) {
        c->validity = malloc((size_t)(rows + 7) / 8);
        if (!c->validity) return -1;
        memset(c->validity, 0xFF, (size_t)(rows + 7) / 8);
    }
    c->validity[row / 8] &= (uint8_t)~(1u << (row % 8));
    c->nulls++;
    return 0;
}

/* Classify one line's fields and, when good, append them as row `good`. -1 on memory error,
 * NUM_UNSURE + 16 when the reference must decide, else the reason. */
static int parse_fields(Parser *p, const Fields *f, int64_t rows) {
    int64_t numbers[MAX_FIELDS];
    uint8_t null[MAX_FIELDS];
    int ts_bad = 0, number_bad = 0;
    for (int i = 0; i < p->n; i++) {
        const char *s = f->start[i], *e = f->end[i];
        int kind = p->kinds[i], rc = NUM_OK;
        null[i] = 0;
        if (kind == K_TIMESTAMP) {
            double seconds;
            rc = parse_float(skip_spaces(s, e), e, &seconds);
            if (rc == NUM_OK && seconds >= p->ts_low && seconds < p->ts_high) numbers[i] = seconds >= 0 ? (int64_t)seconds : (int64_t)floor(seconds);
            else if (rc >= 0) ts_bad = 1;
        } else if (kind == K_INT || kind == K_INT_OPT) {
            if (kind == K_INT_OPT && e - s == 1 && *s == '-') rc = NUM_NULL;
            else rc = parse_int(skip_spaces(s, e), e, &numbers[i]);
            if (rc == NUM_BAD) number_bad = 1;
        } else if (kind == K_DURATION || kind == K_DURATION_OPT) {
            rc = parse_duration(s, e, kind == K_DURATION_OPT, &numbers[i]);
            if (rc == NUM_BAD) number_bad = 1;
        }
        if (rc < 0) return -1;
        if (rc == NUM_UNSURE) return NUM_UNSURE + 16;
        null[i] = rc == NUM_NULL;
    }
    if (ts_bad) return INVALID_TIMESTAMP;
    if (number_bad) return INVALID_NUMBER;
    int64_t row = p->good++;
    for (int i = 0; i < p->n; i++) {
        Column *c = &p->cols[i];
        if (c->kind == K_STRING) {
            int32_t n = (int32_t)(f->end[i] - f->start[i]);
            if (string_view(c, row, f->start[i], n, p->end - f->start[i]) < 0) return -1;
        } else {
            c->values[row] = null[i] ? 0 : numbers[i];
            if (null[i] && set_null(c, row, rows) < 0) return -1;
        }
    }
    return GOOD;
}

/* ---- export ---- */
typedef struct {
    void *buffers[4]; /* validity, values or views, then a view array's data buffer and its size */
    const void *pointers[4];
    struct ArrowArray *children_storage;
    struct ArrowArray **children;
    int64_t n_children;
} ArrayData;

static void release_array(struct ArrowArray *a) {
    ArrayData *d = a->private_data;
    for (int64_t i = 0; i < d->n_children; i++)
        if (d->children[i]->release) d->children[i]->release(d->children[i]);
    for (int i = 0; i < 4; i++) free(d->buffers[i]);
    free(d->children_storage);
    free(d->children);
    free(d);
    a->release = NULL;
}

typedef struct {
    char *name;
    struct ArrowSchema *children_storage;
    struct ArrowSchema **children;
    int64_t n_children;
} SchemaData;

static void release_schema(struct ArrowSchema *s) {
    SchemaData *d = s->private_data;
    for (int64_t i = 0; i < d->n_children; i++)
        if (d->children[i]->release) d->children[i]->release(d->children[i]);
    free(d->name);
    free(d->children_storage);
    free(d->children);
    free(d);
    s->release = NULL;
}

static int schema_init(struct ArrowSchema *s, const char *format, const char *name, int64_t flags,
                       int64_t n_children) {
    SchemaData *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->name = strdup(name);
    d->children_storage = n_children ? calloc((size_t)n_children, sizeof(struct ArrowSchema)) : NULL;
    d->children = n_children ? calloc((size_t)n_children, sizeof(struct ArrowSchema *)) : NULL;
    if (!d->name || (n_children && (!d->children_storage || !d->children))) {
        free(d->name);
        free(d->children_storage);
        free(d->children);
        free(d);
        return -1;
    }
    d->n_children = n_children;
    for (int64_t i = 0; i < n_children; i++) d->children[i] = &d->children_storage[i];
    *s = (struct ArrowSchema){format, d->name, NULL, flags, n_children, d->children, NULL, release_schema, d};
    return 0;
}

static int array_init(struct ArrowArray *a, int64_t length, int64_t nulls, int64_t n_buffers, int64_t n_children) {
    ArrayData *d = calloc(1, sizeof *d);
    if (!d) return -1;
    d->children_storage = n_children ? calloc((size_t)n_children, sizeof(struct ArrowArray)) : NULL;
    d->children = n_children ? calloc((size_t)n_children, sizeof(struct ArrowArray *)) : NULL;
    if (n_children && (!d->children_storage || !d->children)) {
        free(d->children_storage);
        free(d->children);
        free(d);
        return -1;
    }
    d->n_children = n_children;
    for (int64_t i = 0; i < n_children; i++) d->children[i] = &d->children_storage[i];
    *a = (struct ArrowArray){length, nulls, 0, n_buffers, n_children, d->pointers, d->children, NULL,
                             release_array, d};
    return 0;
}

/* Move column c's buffers into the Arrow array a (the array owns them from here). A view array has
 * one data buffer, or none when every value fits in its view. */
static int export_column(Column *c, int64_t rows, struct ArrowArray *a) {
    int strings = c->kind == K_STRING, data = strings && c->data_len;
    if (strings && !(c->data_size = malloc(sizeof(int64_t)))) return -1;
    if (array_init(a, rows, c->nulls, strings ? 3 + data : 2, 0) < 0) return -1;
    ArrayData *d = a->private_data;
    d->pointers[0] = d->buffers[0] = c->validity;
    d->pointers[1] = d->buffers[1] = strings ? (void *)c->views : (void *)c->values;
    if (strings) {
        c->data_size[0] = (int64_t)c->data_len;
        d->buffers[2] = c->data;
        d->buffers[3] = c->data_size;
        d->pointers[2] = data ? (const void *)c->data : (const void *)c->data_size;
        d->pointers[3] = data ? c->data_size : NULL;
    }
    c->validity = NULL;
    c->views = NULL;
    c->values = NULL;
    c->data = NULL;
    c->data_size = NULL;
    return 0;
}

static void schema_capsule_free(PyObject *capsule) {
    struct ArrowSchema *s = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s && s->release) s->release(s);
    free(s);
}

static void array_capsule_free(PyObject *capsule) {
    struct ArrowArray *a = PyCapsule_GetPointer(capsule, "arrow_array");
    if (a && a->release) a->release(a);
    free(a);
}

/* Release and free what an export made of a schema and an array (either may be NULL or unset). */
static void discard(struct ArrowSchema *schema, struct ArrowArray *array) {
    if (schema && schema->release) schema->release(schema);
    if (array && array->release) array->release(array);
    free(schema);
    free(array);
}

/* The pair of capsules (schema, array) of the Arrow PyCapsule interface, which own the two from here
 * (released and freed on failure too); NULL with an exception set. */
static PyObject *capsules(struct ArrowSchema *schema, struct ArrowArray *array) {
    PyObject *schema_capsule = PyCapsule_New(schema, "arrow_schema", schema_capsule_free);
    if (!schema_capsule) {
        discard(schema, array);
        return NULL;
    }
    PyObject *array_capsule = PyCapsule_New(array, "arrow_array", array_capsule_free);
    if (!array_capsule) {
        Py_DECREF(schema_capsule);
        discard(NULL, array);
        return NULL;
    }
    return Py_BuildValue("(NN)", schema_capsule, array_capsule);
}

/* The good lines as one struct array: the fields but the timestamp in their order, then `ts_name`. */
static PyObject *export(Parser *p, PyObject *names, const char *ts_name) {
    struct ArrowSchema *schema = calloc(1, sizeof *schema);
    struct ArrowArray *array = calloc(1, sizeof *array);
    if (!schema || !array) goto nomem;
    if (schema_init(schema, "+s", "", 0, p->n) < 0) goto nomem;
    if (array_init(array, p->good, 0, 1, p->n) < 0) goto nomem;
    int out = 0, ts = -1;
    for (int i = 0; i <= p->n; i++) {
        int field = i < p->n ? i : ts;
        if (i < p->n && p->kinds[i] == K_TIMESTAMP) {
            ts = i;
            continue;
        }
        Column *c = &p->cols[field];
        const char *name = field == ts ? ts_name : PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, field));
        if (!name) goto fail;
        const char *format = c->kind == K_STRING ? "vu" : "l";
        int64_t flags = (c->kind == K_INT_OPT || c->kind == K_DURATION_OPT) ? ARROW_FLAG_NULLABLE : 0;
        if (schema_init(schema->children[out], format, name, flags, 0) < 0) goto nomem;
        if (export_column(c, p->good, array->children[out]) < 0) goto nomem;
        out++;
    }
    return capsules(schema, array);
nomem:
    PyErr_NoMemory();
fail:
    discard(schema, array);
    return NULL;
}

/* The values of codes [at, at + rows) into the string column c. -1: IndexError set, or out of memory. */
static int gather_values(const Dictionary *d, const char *at, int64_t rows, Column *c) {
    for (int64_t row = 0; row < rows; row++) {
        Py_ssize_t code;
        memcpy(&code, at + row * (int64_t)sizeof code, sizeof code);
        if (code < 0 || (size_t)code >= d->size) {
            PyErr_Format(PyExc_IndexError, "code %zd: the Dictionary holds %zu values", code, d->size);
            return -1;
        }
        const Key *k = &d->keys[code];
        int32_t n = (int32_t)(uint32_t)k->head;
        char local[16];
        if (string_view(c, row, key_bytes(d, k, n, local), n, n) < 0) return -1;
    }
    return 0;
}

static PyObject *dictionary_take(Dictionary *d, PyObject *codes) {
    if (!dictionary_idle(d)) return NULL;
    Py_buffer buffer;
    if (PyObject_GetBuffer(codes, &buffer, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = NULL;
    Column c = {.kind = K_STRING};
    struct ArrowSchema *schema = NULL;
    struct ArrowArray *array = NULL;
    if (buffer.len % (Py_ssize_t)sizeof(Py_ssize_t)) {
        PyErr_SetString(PyExc_ValueError, "take takes a buffer of native ssize_t codes");
        goto done;
    }
    int64_t rows = buffer.len / (Py_ssize_t)sizeof(Py_ssize_t);
    if (!(c.views = malloc(((size_t)rows + 1) * 16))) goto nomem;
    if (gather_values(d, buffer.buf, rows, &c) < 0) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    schema = calloc(1, sizeof *schema);
    array = calloc(1, sizeof *array);
    if (!schema || !array || schema_init(schema, "vu", "", 0, 0) < 0) goto nomem;
    if (export_column(&c, rows, array) < 0) goto nomem;
    out = capsules(schema, array);
    schema = NULL;
    array = NULL;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    discard(schema, array);
    column_free(&c);
    PyBuffer_Release(&buffer);
    return out;
}

/* ---- the module function ---- */
static int parser_alloc(Parser *p, int64_t rows) {
    for (int i = 0; i < p->n; i++) {
        Column *c = &p->cols[i];
        c->kind = p->kinds[i];
        if (c->kind == K_STRING) {
            c->views = malloc(((size_t)rows + 1) * 16);
            if (!c->views) return -1;
        } else {
            c->values = malloc(((size_t)rows + 1) * sizeof(int64_t));
            if (!c->values) return -1;
        }
    }
    return 0;
}

/* The codes' buffers of the string fields to number (a tuple, None for the others), their dictionaries
 * marked busy (unmarked when the parse ends); NULL with an exception on a bad argument. */
static PyObject *numbering(Parser *p, PyObject *dictionaries, int64_t rows) {
    PyObject *codes = PyTuple_New(p->n);
    if (!codes) return NULL;
    for (int i = 0; i < p->n; i++) PyTuple_SET_ITEM(codes, i, Py_NewRef(Py_None));
    if (dictionaries == Py_None) return codes;
    if (!PyTuple_Check(dictionaries) || PyTuple_GET_SIZE(dictionaries) != p->n) {
        PyErr_SetString(PyExc_TypeError, "dictionaries: a tuple with one entry a field");
        goto fail;
    }
    for (int i = 0; i < p->n; i++) {
        PyObject *item = PyTuple_GET_ITEM(dictionaries, i);
        if (item == Py_None) continue;
        if (!PyObject_TypeCheck(item, &DictionaryType) || p->kinds[i] != K_STRING) {
            PyErr_SetString(PyExc_TypeError, "dictionaries: a Dictionary for string fields only, or None");
            goto fail;
        }
        Dictionary *d = (Dictionary *)item;
        if (!dictionary_idle(d)) goto fail;
        PyObject *buffer = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((size_t)rows * sizeof(Py_ssize_t)));
        if (!buffer) goto fail;
        Py_SETREF(PyTuple_GET_ITEM(codes, i), buffer);
        d->busy = 1; /* the tuple holds a reference to d until the parse returns */
        p->cols[i].dictionary = d;
        p->cols[i].codes = (Py_ssize_t *)(void *)PyBytes_AS_STRING(buffer);
    }
    return codes;
fail:
    Py_DECREF(codes);
    return NULL;
}

static const char BOM[] = "\xEF\xBB\xBF";

PyDoc_STRVAR(parse_doc,
             "parse(chunk, names, kinds, ts_low, ts_high, ts_name, dictionaries=None)\n"
             "    -> None or (lines, reasons, firsts, arrow, codes)\n\n"
             "chunk: bytes (no other buffer: it must not change while parsed) of whole lines, each ending with a\n"
             "newline. kinds: one letter a field (S string, I/i int required/optional, D/d duration\n"
             "required/optional, T timestamp in seconds). reasons: one byte a line (0 good, 1 binary,\n"
             "2 field_count, 3 invalid_timestamp, 4 invalid_number); firsts: the (start, end) of the first line\n"
             "of each reason, or None; arrow: the Arrow PyCapsules of the good lines' columns. None when the\n"
             "chunk needs the reference parser.\n"
             "dictionaries: None or one entry a field, None or the Dictionary to number that string field in\n"
             "(one field each); codes: one entry a field, the good lines' codes (bytes of lines Py_ssize_t,\n"
             "the first good ones valid) or None: not numbered, or its Dictionary became full.");

static PyObject *tsv_parse(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *chunk; /* bytes: immutable, so no other thread can change it while the GIL is released */
    PyObject *names, *dictionaries = Py_None;
    const char *kinds, *ts_name;
    Py_ssize_t n_kinds;
    long long ts_low, ts_high;
    if (!PyArg_ParseTuple(args, "O!O!s#LLs|O", &PyBytes_Type, &chunk, &PyTuple_Type, &names, &kinds, &n_kinds, &ts_low,
                          &ts_high, &ts_name, &dictionaries))
        return NULL;
    PyObject *result = NULL, *reasons = NULL, *codes = NULL;
    Parser *p = calloc(1, sizeof *p);
    int timestamps = 0;
    for (Py_ssize_t i = 0; i < n_kinds; i++) timestamps += kinds[i] == K_TIMESTAMP;
    if (!p) {
        PyErr_NoMemory();
        goto done;
    }
    if (n_kinds < 1 || n_kinds > MAX_FIELDS || PyTuple_GET_SIZE(names) != n_kinds || timestamps != 1 ||
        strspn(kinds, "SIiDdT") != (size_t)n_kinds) {
        PyErr_SetString(PyExc_ValueError, "kinds: 1 to 256 of SIiDdT with one T, one name each");
        goto done;
    }
    p->n = (int)n_kinds;
    p->kinds = kinds;
    p->ts_low = (double)ts_low;
    p->ts_high = (double)ts_high;
    Py_ssize_t length = PyBytes_GET_SIZE(chunk);
    const char *buf = PyBytes_AS_STRING(chunk), *end = buf + length;
    p->end = end;
    if (length && end[-1] != '\n') {
        PyErr_SetString(PyExc_ValueError, "a chunk is whole lines: it ends with a newline");
        goto done;
    }
    if (length >= INT32_MAX) { /* string views address their bytes with 32 bits */
        result = Py_NewRef(Py_None);
        goto done;
    }
    int64_t rows = 0;
    for (const char *s = buf; s < end && (s = memchr(s, '\n', (size_t)(end - s))); s++) rows++;
    if (parser_alloc(p, rows) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(codes = numbering(p, dictionaries, rows))) goto done;
    reasons = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)rows);
    if (!reasons) goto done;
    char *reason = PyBytes_AS_STRING(reasons);
    Py_ssize_t first[REASONS][2];
    for (int r = 0; r < REASONS; r++) first[r][0] = first[r][1] = -1;
    int bom_possible = 1, unsure = 0, failed = 0;
    Fields *fields = malloc(sizeof *fields);
    if (!fields) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    const char *s = buf;
    for (int64_t line = 0; line < rows; line++) {
        int tabs, suspect;
        const char *nl = scan_line(s, end, p->n, fields, &tabs, &suspect);
        const char *e = nl > s && nl[-1] == '\r' ? nl - 1 : nl; /* polars' line reader drops a CR before LF */
        int r;
        if (suspect && is_binary(s, e)) r = BINARY;
        else if (tabs != p->n - 1) r = FIELD_COUNT;
        else {
            fields->end[p->n - 1] = e;
            /* polars' CSV reader drops a byte-order mark at the start of its input: the first line
             * that reaches it (past the binary and field count checks). */
            if (bom_possible) {
                bom_possible = 0;
                if (e - s >= 3 && memcmp(s, BOM, 3) == 0) fields->start[0] = s + 3;
            }
            r = parse_fields(p, fields, rows);
        }
        if (r < 0) {
            failed = 1;
            break;
        }
        if (r >= 16) {
            unsure = 1;
            break;
        }
        reason[line] = (char)r;
        if (first[r][0] < 0) {
            first[r][0] = s - buf;
            first[r][1] = e - buf;
        }
        s = nl + 1;
    }
    for (int i = 0; i < p->n && !failed && !unsure; i++)
        if (p->cols[i].dictionary && number_column(&p->cols[i], p->good) < 0) failed = 1;
    Py_END_ALLOW_THREADS
    free(fields);
    if (unsure) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    {
        PyObject *firsts = PyTuple_New(REASONS);
        if (!firsts) goto done;
        for (int r = 0; r < REASONS; r++) {
            PyObject *item = first[r][0] < 0 || r == GOOD ? Py_NewRef(Py_None)
                                                          : Py_BuildValue("(nn)", first[r][0], first[r][1]);
            if (!item) {
                Py_DECREF(firsts);
                goto done;
            }
            PyTuple_SET_ITEM(firsts, r, item);
        }
        PyObject *arrow = export(p, names, ts_name);
        if (!arrow) {
            Py_DECREF(firsts);
            goto done;
        }
        for (int i = 0; i < p->n; i++)
            if (p->cols[i].unnumbered) {
                Py_INCREF(Py_None);
                Py_SETREF(PyTuple_GET_ITEM(codes, i), Py_None);
            }
        result = Py_BuildValue("(LONNO)", (long long)rows, reasons, firsts, arrow, codes);
    }
done:
    Py_XDECREF(reasons);
    Py_XDECREF(codes);
    if (p)
        for (int i = 0; i < MAX_FIELDS; i++) {
            if (p->cols[i].dictionary) p->cols[i].dictionary->busy = 0;
            column_free(&p->cols[i]);
        }
    free(p);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", tsv_parse, METH_VARARGS, parse_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "streamstats._tsv", "The native parser of the tab-separated log formats.", -1, methods,
    NULL, NULL, NULL, NULL,
};

/* The hash seed, from os.urandom: a log cannot be made to collide without knowing it. */
static int seed_hash(void) {
    PyObject *os = PyImport_ImportModule("os");
    PyObject *bytes = os ? PyObject_CallMethod(os, "urandom", "i", 8) : NULL;
    Py_XDECREF(os);
    if (!bytes) return -1;
    memcpy(&hash_seed, PyBytes_AS_STRING(bytes), sizeof hash_seed);
    Py_DECREF(bytes);
    return 0;
}

PyMODINIT_FUNC PyInit__tsv(void) {
    if (PyType_Ready(&DictionaryType) < 0 || seed_hash() < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    DictionaryFull = PyErr_NewExceptionWithDoc("streamstats._tsv.DictionaryFull",
                                               "A Dictionary cannot take another value.", NULL, NULL);
    if (!DictionaryFull || PyModule_AddObjectRef(m, "DictionaryFull", DictionaryFull) < 0 ||
        PyModule_AddObjectRef(m, "Dictionary", (PyObject *)&DictionaryType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
