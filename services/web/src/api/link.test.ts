// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { nextCursor, parseLinkHeader } from './link.ts';

describe('nextCursor', () => {
  it('reads the cursor of the rel="next" link', () => {
    expect(nextCursor('</api/todos?limit=50&cursor=XYZ>; rel="next"')).toBe('XYZ');
  });

  it('is null without a header or without a next link', () => {
    expect(nextCursor(null)).toBeNull();
    expect(nextCursor('')).toBeNull();
    expect(nextCursor('</api/todos?limit=50&cursor=ABC>; rel="prev"')).toBeNull();
  });

  it('picks next among several links, unquoted rels and rel lists', () => {
    const header =
      '</api/todos?cursor=first>; rel="first", </api/todos?limit=50&cursor=n%2B1%3D>; rel=next';
    expect(nextCursor(header)).toBe('n+1=');
    expect(nextCursor('</a?cursor=Q>; title="x"; rel="prefetch next"')).toBe('Q');
  });

  it('keeps commas inside the target', () => {
    expect(parseLinkHeader('</a?cursor=a,b>; rel="next", </b>; rel="prev"')).toEqual([
      { target: '/a?cursor=a,b', rels: ['next'] },
      { target: '/b', rels: ['prev'] },
    ]);
  });

  it('treats a next link without a cursor as the last page', () => {
    expect(nextCursor('</api/todos?limit=50>; rel="next"')).toBeNull();
    expect(nextCursor('</api/todos?limit=50&cursor=>; rel="next"')).toBeNull();
  });
});
