/** invoq's version, shown in invoq_build_info and ListFunctions. */
export const INVOQ_VERSION = '0.1.0';
