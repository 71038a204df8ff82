// Takes every answer out of its envelope {status, data}. The API reports some errors as a
// 200 with {status: "error", error: {code, message}}: those become real error statuses, so
// callers get an error (and the resilience layer sees a failure) instead of a "success".
const STATUS_OF = { not_found: 404, invalid_json: 400 };

export default function unwrap(ctx) {
  const body = ctx.response.body;
  if (body === null || typeof body !== 'object' || !('status' in body)) {
    return; // not enveloped (an error page, a 401 from the signature check)
  }
  if (body.status === 'error') {
    ctx.log.warn('the API reported', body.error.code, 'in a', ctx.response.status);
    return { status: STATUS_OF[body.error.code] ?? 502, body: body.error };
  }
  return { body: body.data };
}
