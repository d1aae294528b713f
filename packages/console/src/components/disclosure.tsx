// A section opened on demand (<details>: keyboard and screen readers know it). Its content is made, and so its
// lists fetched, only while it is open.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export function Disclosure({ summary, children }: { summary: string; children: () => ComponentChildren }) {
  const [open, setOpen] = useState(false);
  return (
    <details class="disclosure" open={open} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{summary}</summary>
      {open && children()}
    </details>
  );
}
