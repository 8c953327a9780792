/** Stylesheets imported for esbuild to bundle (into admin.css); they export nothing. */
declare module '*.css';
