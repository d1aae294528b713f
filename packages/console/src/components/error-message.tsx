// A failed call as the hub coded it: the code and the message (which says which link failed), never a stack.
import { describe } from '../api/client.js';

export function ErrorMessage({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  const { code, message } = describe(error);
  return (
    <p class="error" role="alert">
      <strong>{code}</strong>: {message}
    </p>
  );
}
