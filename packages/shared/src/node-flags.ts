// The Node flags every long-running hub and agent process is started with. Every launch line the project
// ships uses them: the Docker images, the systemd unit and the Windows service the agent installs, the
// `gatehouse-hub` / `gatehouse-agent` launchers (their #! line), `npm start` and the agent `gatehouse-hub dev`
// starts (docker, service and launch tests check them all against this list).
//
// --min-semi-space-size=8 --max-semi-space-size=8: a young generation held at 8 MiB each half. V8 starts it at
// 1 MiB and shrinks it back when a process idles; while it is small, the 64 KiB buffers of a bulk transfer live
// through young collections, are promoted and can then only be freed by full collections, which V8 then runs back
// to back (a hub downloading at 3-4 ms of CPU per MiB instead of under 1.5; 4 MiB is too small). The maximum
// (V8's default is 16) bounds the buffer garbage that piles up between two young collections under steady load:
// it lands in glibc's main heap, which keeps it after the load (issue 22's soak: 140-155 MiB 10 s after, against
// 158-173 when it grows to 16). An idle hub is no larger than with the old --min-semi-space-size=16.
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=8', '--max-semi-space-size=8'];
