// A list the console changes itself (roles, shares): loaded when shown and again after each change it makes, and
// the changes themselves.
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Api } from '../api/client.js';

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

/** The changes an editor makes to such a list (PUT or DELETE of `base/{id}`): the hub's coded refusal kept to
 *  show, `busy` while one is under way, and the list reloaded after each, refused or not (a control then shows
 *  what the hub holds, not what was asked). `change` answers whether the hub took it. */
export function useChanges(
  api: Api,
  base: string,
  list: { reload(): void },
  onChanged: () => void,
): { error?: unknown; busy: boolean; change(method: 'PUT' | 'DELETE', id: string, body?: object): Promise<boolean> } {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const change = async (method: 'PUT' | 'DELETE', id: string, body?: object) => {
    setError(undefined);
    setBusy(true);
    try {
      await api.call(method, `${base}/${encodeURIComponent(id)}`, body);
      onChanged();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
      list.reload();
    }
  };
  return { error, busy, change };
}
