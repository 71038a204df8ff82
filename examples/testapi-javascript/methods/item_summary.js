// An operation implemented in JavaScript: two API calls through ctx.apiClient (signed and
// unwrapped by the connector's hooks, under its resilience settings), one combined answer.
export default async function itemSummary(ctx) {
  const id = ctx.parameters.id;
  const item = await ctx.apiClient.get(`/envelope/items/${id}`);
  // Cursors count records from 0, so the page at cursor `id` starts with the next item.
  const after = await ctx.apiClient.get('/envelope/items', { query: { cursor: id, limit: 1 } });
  const next = after.items[0] ?? null;
  ctx.log.info(`item ${id}: the next one is ${next ? next.id : 'none'}`);
  return {
    id: item.id,
    name: item.name,
    next: next === null ? null : { id: next.id, name: next.name },
  };
}
