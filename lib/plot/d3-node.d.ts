// Types for d3-node (the package ships none): the parts lib/plot uses.
declare module 'd3-node' {
  export class D3Node {
    constructor(options?: { container?: string; selector?: string; styles?: string });
    document: Document;
    createSVG(width?: number, height?: number, attrs?: Record<string, string | number>): any;
    svgString(): string;
  }
}
