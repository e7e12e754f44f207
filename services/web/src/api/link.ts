/**
 * RFC 8288 Link header parsing, just enough for cursor pagination:
 *   Link: </api/todos?limit=50&cursor=XYZ>; rel="next"
 */

interface LinkValue {
  target: string;
  rels: string[];
}

// One link-value: <target> and its ;-parameters, up to the next target.
// Targets may contain commas, so values are matched rather than split on ",".
const LINK_VALUE = /<([^>]*)>([^<]*)/g;
const REL_PARAM = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i;

export function parseLinkHeader(header: string | null): LinkValue[] {
  if (!header) return [];
  return Array.from(header.matchAll(LINK_VALUE), (match) => {
    const rel = REL_PARAM.exec(match[2] ?? '');
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    return { target: match[1] ?? '', rels };
  });
}

/** The `cursor` query parameter of the rel="next" link, or null on the last page. */
export function nextCursor(header: string | null): string | null {
  const next = parseLinkHeader(header).find((link) => link.rels.includes('next'));
  if (!next) return null;
  const query = next.target.split('#')[0]?.split('?')[1] ?? '';
  const cursor = new URLSearchParams(query).get('cursor');
  return cursor === null || cursor === '' ? null : cursor;
}
