/** One screen of the dashboard, mounted into <main> by the router in main.ts. */
export interface View {
  element: HTMLElement;
  /** The heading that takes focus after a navigation, so screen readers announce the new screen. */
  heading: HTMLElement;
  /** Stops the view's pending work from touching the page once it is gone. */
  dispose(): void;
}
