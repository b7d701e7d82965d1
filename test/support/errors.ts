/**
 * The message of an error body, whichever documented form it has: Baseten's
 * `{"error": "<message>"}` or the OpenAI-style `{"error": {"message": ...}}`. Tests that
 * judge what an error says, not its form, read it through this.
 */
export function errorMessage(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}
