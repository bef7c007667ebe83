// A hostile JavaScript classifier for the sandbox tests: it tries the
// network (fetch to the URL in its configuration) and reports what happened
// as intent labels. Built with stdio, clocks and random kept (so it imports
// those wasi:* interfaces and the host's deny-everything context answers
// them) but without wasi:http, which the host does not offer (a component
// importing it is refused at load); componentize-js then leaves `fetch` as a
// stub that traps, so the call fails before anything leaves the sandbox.

import { get } from 'smsdesk:plugin/config@0.1.0';

export const classifier = {
  classify(message, context) {
    const out = [];
    try {
      if (typeof fetch !== 'function') throw new TypeError('fetch is not available');
      const url = JSON.parse(get('url') ?? '"http://127.0.0.1:9/"');
      const pending = fetch(url);
      out.push('fetch-returned:' + typeof pending);
      out.push('socket-connected');
    } catch (e) {
      out.push('socket-denied:' + e.name);
    }
    out.push('fs-api:' + (typeof globalThis.require === 'function' || typeof globalThis.Deno === 'object'));
    out.push('clock:' + (Date.now() > 0));
    return out.map((label) => ({ label: label.slice(0, 64), confidence: 0.5 }));
  },
};

export const manifest = {
  get() {
    return { name: 'js-probe', version: '0.1.0', description: 'tries the network', roles: ['classifier'], capabilities: [] };
  },
};
