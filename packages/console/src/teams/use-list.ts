// A list the console changes itself (roles, shares): loaded when shown and again after each change it makes.
import { useCallback, useEffect, useState } from 'preact/hooks';

export function useList<T>(load: () => Promise<{ value: T[] }>, key: string): { rows?: T[]; error?: unknown; reload(): void } {
  const [state, setState] = useState<{ rows?: T[]; error?: unknown }>({});
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    load().then(
      (r) => live && setState({ rows: r.value }),
      (error: unknown) => live && setState((s) => ({ rows: s.rows, error })),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  return { ...state, reload };
}
