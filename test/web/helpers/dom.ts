// The test programs are compiled for Node, without the DOM library (so that
// server code cannot use browser globals by mistake). Functions given to
// page.evaluate() run in the page; they reach its globals through these types:
//   const { document } = globalThis as unknown as InPage;

export interface PageElement {
  id: string;
  lang: string;
  className: string;
  textContent: string | null;
  scrollWidth: number;
  offsetParent: unknown;
  dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
}

export interface InPage {
  document: {
    readyState: string;
    documentElement: PageElement;
    body: PageElement;
    fonts: { ready: Promise<unknown> };
    querySelectorAll(selector: string): ArrayLike<PageElement>;
    getElementById(id: string): PageElement | null;
    addEventListener(
      type: 'securitypolicyviolation',
      listener: (event: { violatedDirective: string; blockedURI: string }) => void,
    ): void;
  };
  getComputedStyle(element: PageElement): { backgroundColor: string; color: string };
  axe?: { run(context: unknown, options: unknown): Promise<{ violations: unknown }> };
}
