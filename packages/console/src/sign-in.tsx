// Shown until someone signs in with Entra ID (or when the console cannot start): one button, or one message.
export function SignIn({ onSignIn }: { onSignIn(): void }) {
  return (
    <main class="center">
      <h1>Gatehouse</h1>
      <p>Sign in with your Microsoft Entra ID account to manage gateways and connections.</p>
      <button type="button" onClick={onSignIn}>
        Sign in
      </button>
    </main>
  );
}

export function Failed({ message }: { message: string }) {
  return (
    <main class="center">
      <h1>Gatehouse</h1>
      <p class="error" role="alert">
        The console could not start: {message}
      </p>
    </main>
  );
}
