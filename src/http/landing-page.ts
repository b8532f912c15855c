import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';

/** The sentence Apollo's embedded Sandbox page shows when it cannot load the Sandbox from Apollo's CDN. */
const OFFLINE_SENTENCE = '<p>Apollo Sandbox cannot be loaded; it appears that you might be offline.</p>';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Apollo's local landing page (the embedded Sandbox), with somewhere to go when the Sandbox cannot load
 * (no internet, a blocked CDN): links to the operator console and the schema, and a curl line that works.
 * The links sit in Apollo's own fallback block, which shows only while the Sandbox is missing.
 */
export function landingPagePlugin<TContext extends BaseContext>(
  opts: { consoleUrl?: string },
  // Apollo's page; tests pass a stand-in to drive the cases Apollo's never produces.
  inner = ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) as ApolloServerPlugin<TContext>,
): ApolloServerPlugin<TContext> {
  const curl =
    `curl -s -X POST "$ORIGIN/graphql" -H 'content-type: application/json' ` +
    `-d '{"query":"mutation { predict(input: {airTemperature: 298.9, processTemperature: 309.1, rotationalSpeed: 1500, torque: 40, toolWear: 100, productType: L}) { label probability isAnomaly } }"}'`;
  const links =
    `<p>Without the Sandbox you can still ${opts.consoleUrl ? `use the <a href="${escape(opts.consoleUrl)}">operator console</a>, ` : ''}` +
    `read the schema at <a href="/schema.graphql">/schema.graphql</a>, or call the API from a shell:</p>` +
    `<pre style="white-space: pre-wrap">${escape(curl).replace('$ORIGIN', '<span class="pm-origin">http://localhost:4000</span>')}</pre>` +
    // The page knows where it was served from; the curl line should too.
    `<script>document.querySelectorAll('.pm-origin').forEach((e) => { e.textContent = location.origin; });</script>`;
  return {
    async serverWillStart(context) {
      const listener = await inner.serverWillStart?.(context);
      const render = listener?.renderLandingPage;
      if (!listener || !render) return listener;
      return {
        ...listener,
        async renderLandingPage() {
          const page = await render();
          const html = async () => {
            const text = typeof page.html === 'string' ? page.html : await page.html();
            return text.replace(OFFLINE_SENTENCE, `${OFFLINE_SENTENCE}\n${links}`);
          };
          return { html };
        },
      };
    },
  };
}
