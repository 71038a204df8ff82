// Events of the test API in JavaScript (see docs/events.md and docs/javascript.md).

// handle: the received request in (ctx.input: body, raw_body, headers, query, state), events
// out. The declarative handle of testapi-webhooks.yaml, in code.
export function handle(ctx) {
  const body = ctx.input.body;
  if (body === null || !Array.isArray(body.events)) {
    throw new Error('expected a JSON body {"events": [...]}');
  }
  return body.events.map((e) => ({
    type: e.type,
    id: e.id,
    occurred_at: e.occurred_at,
    payload: { ...e.item, via: 'javascript', message: ctx.input.headers['webhook-id'] ?? null },
  }));
}

// A custom pull: it reads the API itself and keeps its own cursor in its state, which it gets
// back next time (ctx.input.state; ctx.input.first on the first pull). updated_since is
// inclusive, so the changes at the cursor are read again; those already seen are skipped.
const key = (r) => `${r.id}@${r.updated_at}`;

function where(records, since) {
  const newest = records.reduce((m, r) => (r.updated_at > m ? r.updated_at : m), since);
  return { since: newest, seen: records.filter((r) => r.updated_at === newest).map(key) };
}

export async function pull(ctx) {
  if (ctx.input.first) {
    // The first pull records where things stand: past changes are not news.
    const all = await ctx.apiClient.get('/changes', { query: { limit: 1000 } });
    return { events: [], state: where(all.data, '') };
  }
  const { since, seen } = ctx.input.state;
  const page = await ctx.apiClient.get('/changes', { query: { updated_since: since } });
  const fresh = page.data.filter((r) => !seen.includes(key(r)));
  const events = fresh.map((r) => ({ id: key(r), occurred_at: r.updated_at, payload: r }));
  return { events, state: where(page.data, since) };
}
