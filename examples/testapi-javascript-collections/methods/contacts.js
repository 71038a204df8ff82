// The contacts collection in JavaScript. Each export is one collection method: it gets the
// call's values in ctx.input (filters, page_size, cursor, id, fields, match, query) and the
// collection's parameters in ctx.parameters, calls the API with ctx.apiClient, and returns
// raw items; the collection's `record:` mapping turns them into records.

// The API keeps custom fields under `custom`; records show them beside the others.
function toItem(contact) {
  const { custom, deleted_at, ...fields } = contact;
  return { ...fields, ...(custom ?? {}) };
}

// One page: {records, cursor}. A cursor that is not null asks for the next page, and comes
// back as ctx.input.cursor (Connectory keeps it inside its own opaque cursor).
export async function list(ctx) {
  const { filters, page_size, cursor } = ctx.input;
  const query = { limit: page_size ?? 10 };
  if (filters.status !== null) query.status = filters.status;
  if (filters.updated_since !== null) query.updated_since = filters.updated_since;
  if (cursor !== null) query.cursor = cursor;
  const page = await ctx.apiClient.get('/crm/contacts', { query });
  return { records: page.data.map(toItem), cursor: page.next_cursor };
}

// A 404 the code does not catch means "no such record"; returning null says the same.
export async function findById(ctx) {
  return toItem(await ctx.apiClient.get(`/crm/contacts/${encodeURIComponent(ctx.input.id)}`));
}

export async function match(ctx) {
  const page = await ctx.apiClient.get('/crm/contacts', { query: { email: ctx.input.match.email, limit: 50 } });
  return page.data.map(toItem);
}

export async function search(ctx) {
  const page = await ctx.apiClient.get('/crm/contacts', { query: { q: ctx.input.query, limit: 10 } });
  return page.data.map(toItem);
}

// ctx.input.fields was checked against the fields schema before the method was called.
export async function create(ctx) {
  return toItem(await ctx.apiClient.post('/crm/contacts', ctx.input.fields));
}

export async function update(ctx) {
  const id = encodeURIComponent(ctx.input.id);
  return toItem(await ctx.apiClient.patch(`/crm/contacts/${id}`, ctx.input.fields));
}

export async function remove(ctx) {
  await ctx.apiClient.delete(`/crm/contacts/${encodeURIComponent(ctx.input.id)}`);
}

// The account's extra fields: [{key, type, label}] (per X-Tenant, from config.tenant).
export async function customFields(ctx) {
  const answer = await ctx.apiClient.get('/crm/custom-fields');
  return answer.fields;
}
