// Copies a text to the clipboard; says so for screen readers too.
import { useState } from 'preact/hooks';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Copy failed: select the text and copy it');
    }
  };
  return (
    <span>
      <button type="button" onClick={copy} aria-label={label}>
        Copy
      </button>
      <span class="note" role="status">
        {done}
      </span>
    </span>
  );
}
