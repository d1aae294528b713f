// apiProperties.json of the Power Platform custom connector: Entra ID sign-in ("aad" identity provider) for the
// hub's App ID URI and scope, at the configured cloud's sign-in host. The connector's own app registration (a
// client id and secret, entered in the connector's Security tab) is the user's to make: its client id here is a
// placeholder unless --connector-client-id gives it.
import { delegatedScope, type SignIn } from '../openapi/sign-in.js';

/** Written when --connector-client-id is not given: replace it (README, "Power Platform custom connector"). */
export const CLIENT_ID_PLACEHOLDER = '00000000-0000-0000-0000-000000000000';

export function connectorProperties(signIn: SignIn, connectorClientId: string | undefined): Record<string, unknown> {
  return {
    properties: {
      connectionParameters: {
        token: {
          type: 'oauthSetting',
          oAuthSettings: {
            identityProvider: 'aad',
            clientId: connectorClientId ?? CLIENT_ID_PLACEHOLDER,
            scopes: [delegatedScope(signIn)],
            // Power Platform gives each connector its own redirect URI (shown on its Security tab once saved).
            redirectMode: 'GlobalPerConnector',
            properties: { IsFirstParty: 'False', AzureActiveDirectoryResourceId: signIn.appIdUri },
            customParameters: {
              loginUri: { value: signIn.authorityHost },
              tenantId: { value: signIn.tenant },
              resourceUri: { value: signIn.appIdUri },
            },
          },
        },
      },
      iconBrandColor: '#1f4e79',
      capabilities: [],
      publisher: 'Gatehouse',
      stackOwner: 'Gatehouse',
      policyTemplateInstances: [],
    },
  };
}
