// order-desk: an smsdesk responder in JavaScript.
//
// Answers order-status questions from the CRM profile, explains returns,
// routes delivery problems (damaged, wrong, missing items) to fulfilment, and
// hands the conversation to a person when the customer asks for one, sounds
// upset, mentions a chargeback or a lawyer, or keeps asking about the same
// order. Configuration (JSON, per tenant, from the host):
//
//   { "brand": "Demo Outfitters",
//     "tracking_url": "https://shop.example.com/track",
//     "returns_url": "https://shop.example.com/returns",
//     "return_days": 30,
//     "handoff_intents": ["human", "upset"],
//     "min_confidence": 0.6 }

import { document } from 'smsdesk:plugin/config@0.1.0';
import { log } from 'smsdesk:plugin/logging@0.1.0';

const DEFAULTS = {
  brand: 'our store',
  tracking_url: 'https://example.com/track',
  returns_url: 'https://example.com/returns',
  return_days: 30,
  handoff_intents: ['human', 'upset'],
  min_confidence: 0.6,
};

const ESCALATE = /\b(chargeback|lawyer|attorney|dispute|bbb|fraud)\b/i;

function settings() {
  let raw;
  try {
    raw = JSON.parse(document() || '{}');
  } catch (e) {
    throw { kind: 'bad-config', message: `configuration is not JSON: ${e.message}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw { kind: 'bad-config', message: 'configuration must be an object' };
  }
  const s = { ...DEFAULTS, ...raw };
  if (!Array.isArray(s.handoff_intents) || typeof s.min_confidence !== 'number') {
    throw { kind: 'bad-config', message: '`handoff_intents` must be a list and `min_confidence` a number' };
  }
  return s;
}

function attribute(profile, key) {
  const pair = (profile?.attributes ?? []).find(([k]) => k === key);
  return pair ? pair[1] : undefined;
}

function decision(fields) {
  return { reply: undefined, handoff: undefined, addTags: [], resolve: false, ...fields };
}

function handoff(reason, priority, tags) {
  return decision({
    reply: 'Thanks — a teammate will text you back shortly.',
    handoff: { reason, priority, team: undefined },
    addTags: tags,
  });
}

// Pure decision logic, exported for tests outside the component too.
export function decide(body, history, profile, intents, s) {
  const top = intents.filter((i) => i.confidence >= s.min_confidence);
  const has = (label) => top.some((i) => i.label === label);
  if (ESCALATE.test(body)) {
    return handoff('Customer mentions a dispute or legal action', 'urgent', ['escalated']);
  }
  const wanted = s.handoff_intents.find((label) => has(label));
  if (wanted) {
    const priority = wanted === 'upset' ? 'high' : 'normal';
    return handoff(`Customer ${wanted === 'human' ? 'asked for a person' : 'sounds ' + wanted}`, priority, [wanted]);
  }
  const name = profile?.name ? `Hi ${profile.name}! ` : 'Hi! ';
  const problem = ['damaged-item', 'wrong-item', 'missing-item'].find((label) => has(label));
  if (problem) {
    // A replacement or refund needs a person, but the customer hears back now.
    return decision({
      reply: `${name}We're sorry about that. A teammate will arrange a replacement or refund — ` +
        'reply with a photo if you can.',
      handoff: { reason: `Delivery problem: ${problem}`, priority: 'normal', team: 'fulfilment' },
      addTags: [problem],
    });
  }
  if (has('order-status')) {
    // Asked twice already and still asking: a person should look.
    const asked = history.filter((t) => t.author === 'bot' && t.body.includes('Track it here')).length;
    if (asked >= 2) {
      return handoff('Customer keeps asking about the same order', 'high', ['order-status', 'repeat']);
    }
    const order = attribute(profile, 'last-order-id');
    const status = attribute(profile, 'order-status');
    const reply = order && status
      ? `${name}Your order #${order} is ${status}. Track it here: ${s.tracking_url}`
      : `${name}Please reply with your order number and we'll look it up. Track it here: ${s.tracking_url}`;
    return decision({ reply, addTags: ['order-status'] });
  }
  if (has('refund') || has('returns')) {
    const reply = `${name}You can return items within ${s.return_days} days for a full refund. ` +
      `Start a return at ${s.returns_url} — the refund reaches your card 5-10 days after we receive it.`;
    return decision({ reply, addTags: ['returns'], resolve: true });
  }
  return decision({});
}

export const responder = {
  respond(message, context, intents) {
    const s = settings();
    const d = decide(message.body, context.history, context.profile, intents, s);
    log('debug', 'decided', [['reply', String(d.reply !== undefined)], ['handoff', String(d.handoff !== undefined)]]);
    return d;
  },
};

export const manifest = {
  get() {
    return {
      name: 'order-desk',
      version: '0.1.0',
      description: 'Order status and returns replies with a handoff rule (JavaScript)',
      roles: ['responder'],
      capabilities: [],
    };
  },
};
