// damage-report: an smsdesk classifier in C.
//
// Recognises delivery problems — damaged, wrong or missing items, late
// deliveries — by phrases matched as whole words (case folded), skips a
// phrase right after a negation ("not damaged"), and reports each intent
// with the confidence of its strongest phrase, plus a little for every other
// phrase that agrees. `min_confidence` in the tenant's configuration drops
// weaker intents (default 0.5).

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "classifier_plugin.h"

struct rule {
    const char *intent;
    const char *phrase;
    float confidence;
};

static const struct rule RULES[] = {
    {"damaged-item", "damaged", 0.9f},     {"damaged-item", "broken", 0.9f},
    {"damaged-item", "cracked", 0.85f},    {"damaged-item", "smashed", 0.85f},
    {"damaged-item", "arrived torn", 0.8f}, {"wrong-item", "wrong item", 0.95f},
    {"wrong-item", "wrong size", 0.9f},    {"wrong-item", "wrong color", 0.9f},
    {"wrong-item", "not what i ordered", 0.95f}, {"missing-item", "missing", 0.8f},
    {"missing-item", "never arrived", 0.9f}, {"missing-item", "not in the box", 0.85f},
    {"missing-item", "only got", 0.7f},    {"late-delivery", "late", 0.6f},
    {"late-delivery", "still waiting", 0.75f}, {"late-delivery", "hasn't arrived", 0.85f},
    {"late-delivery", "delayed", 0.8f},
};
#define NRULES (sizeof(RULES) / sizeof(RULES[0]))
#define MAXLEN 4096

// Lower-case letters, digits and apostrophes; everything else one space.
static size_t fold(const uint8_t *in, size_t len, char *out) {
    size_t n = 0;
    int space = 1;
    for (size_t i = 0; i < len && n + 1 < MAXLEN; i++) {
        unsigned char c = in[i];
        if (isalnum(c) || c == '\'') {
            out[n++] = (char)tolower(c);
            space = 0;
        } else if (!space) {
            out[n++] = ' ';
            space = 1;
        }
    }
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
    return n;
}

static int negated(const char *text, const char *at) {
    static const char *NEG[] = {"not ", "no ", "isn't ", "wasn't ", "never "};
    for (size_t i = 0; i < sizeof(NEG) / sizeof(NEG[0]); i++) {
        size_t k = strlen(NEG[i]);
        if ((size_t)(at - text) >= k && strncmp(at - k, NEG[i], k) == 0) return 1;
    }
    return 0;
}

// Does `phrase` occur in `text` as whole words, not right after a negation?
static int matches(const char *text, const char *phrase) {
    size_t k = strlen(phrase);
    for (const char *p = strstr(text, phrase); p; p = strstr(p + 1, phrase)) {
        int starts = (p == text) || p[-1] == ' ';
        int ends = p[k] == '\0' || p[k] == ' ';
        // "never arrived" is itself a phrase: its "never" is not a negation of it.
        if (starts && ends && (strncmp(phrase, "never", 5) == 0 || !negated(text, p))) return 1;
    }
    return 0;
}

static void set_string(classifier_plugin_string_t *s, const char *text) {
    size_t n = strlen(text);
    s->ptr = (uint8_t *)malloc(n);
    memcpy(s->ptr, text, n);
    s->len = n;
}

static float min_confidence(void) {
    classifier_plugin_string_t key, value;
    key.ptr = (uint8_t *)"min_confidence";
    key.len = strlen("min_confidence");
    float min = 0.5f;
    if (smsdesk_plugin_config_get(&key, &value)) {
        char buf[32] = {0};
        size_t n = value.len < sizeof(buf) - 1 ? value.len : sizeof(buf) - 1;
        memcpy(buf, value.ptr, n);
        char *end = NULL;
        float v = strtof(buf, &end);
        if (end != buf && v >= 0.0f && v <= 1.0f) min = v;
        classifier_plugin_string_free(&value);
    }
    return min;
}

bool exports_smsdesk_plugin_classifier_classify(exports_smsdesk_plugin_classifier_inbound_message_t *message,
                                                exports_smsdesk_plugin_classifier_conversation_context_t *context,
                                                exports_smsdesk_plugin_classifier_list_intent_t *ret,
                                                exports_smsdesk_plugin_classifier_plugin_error_t *err) {
    (void)err;
    static char text[MAXLEN];
    fold(message->body.ptr, message->body.len, text);
    float min = min_confidence();

    const char *labels[NRULES];
    float best[NRULES];
    int hits[NRULES];
    size_t found = 0;
    for (size_t r = 0; r < NRULES; r++) {
        if (!matches(text, RULES[r].phrase)) continue;
        size_t i = 0;
        while (i < found && strcmp(labels[i], RULES[r].intent) != 0) i++;
        if (i == found) {
            labels[found] = RULES[r].intent;
            best[found] = 0.0f;
            hits[found] = 0;
            found++;
        }
        if (RULES[r].confidence > best[i]) best[i] = RULES[r].confidence;
        hits[i]++;
    }
    ret->ptr = found ? malloc(found * sizeof(*ret->ptr)) : NULL;
    ret->len = 0;
    // Most confident first (selection sort: a handful of intents).
    for (size_t n = 0; n < found; n++) {
        size_t top = n;
        for (size_t j = n + 1; j < found; j++)
            if (best[j] > best[top]) top = j;
        const char *l = labels[top]; labels[top] = labels[n]; labels[n] = l;
        float b = best[top]; best[top] = best[n]; best[n] = b;
        int h = hits[top]; hits[top] = hits[n]; hits[n] = h;
        float confidence = best[n] + 0.03f * (float)(hits[n] - 1);
        if (confidence > 0.99f) confidence = 0.99f;
        if (confidence < min) continue;
        set_string(&ret->ptr[ret->len].label, labels[n]);
        ret->ptr[ret->len].confidence = confidence;
        ret->len++;
    }
    exports_smsdesk_plugin_classifier_inbound_message_free(message);
    exports_smsdesk_plugin_classifier_conversation_context_free(context);
    return true;
}

void exports_smsdesk_plugin_manifest_get(exports_smsdesk_plugin_manifest_plugin_info_t *ret) {
    set_string(&ret->name, "damage-report");
    set_string(&ret->version, "0.1.0");
    set_string(&ret->description, "Damaged, wrong, missing and late deliveries by phrase (C)");
    ret->roles.ptr = malloc(sizeof(*ret->roles.ptr));
    ret->roles.ptr[0] = SMSDESK_PLUGIN_TYPES_ROLE_CLASSIFIER;
    ret->roles.len = 1;
    ret->capabilities.ptr = NULL;
    ret->capabilities.len = 0;
}
