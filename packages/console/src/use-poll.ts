// Loads something now and again every `everyMs` while the page shows it (status refreshes by itself).
import { useCallback, useEffect, useState } from 'preact/hooks';

export function usePoll<T>(load: () => Promise<T>, everyMs: number): { data?: T; error?: unknown; reload(): void } {
  const [state, setState] = useState<{ data?: T; error?: unknown }>({});
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data }),
      (error: unknown) => live && setState((s) => ({ data: s.data, error })),
    );
    const timer = setTimeout(reload, everyMs);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [tick]);
  return { ...state, reload };
}
