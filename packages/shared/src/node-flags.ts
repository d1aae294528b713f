// The Node flags every long-running hub and agent process is started with. Every launch line the project
// ships uses them: the Docker images, the systemd unit and the Windows service the agent installs, the
// `gatehouse-hub` / `gatehouse-agent` launchers (their #! line), `npm start` and the agent `gatehouse-hub dev`
// starts (docker, service and launch tests check them all against this list).
//
// --min-semi-space-size=16: V8 starts the young generation at 1 MiB and shrinks it back when a process idles.
// While it is small, the 64 KiB buffers of a bulk transfer live through young collections, are promoted and
// can then only be freed by full collections, which V8 then runs back to back (a hub downloading at 3-4 ms of
// CPU per MiB instead of under 1). A young generation of at least 16 MiB each half (V8's default maximum)
// frees them young. Cost: about 13-21 MiB more resident memory per process (docs/operations.md).
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];
