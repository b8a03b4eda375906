import { z } from 'zod';

/**
 * A destination is an http(s) URL, which is POSTed the record, or a function's ARN, which is sent
 * the record as an event (as a Lambda destination may be another function).
 */
const FUNCTION_DESTINATION = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/;

export const isFunctionDestination = (destination: string): boolean => FUNCTION_DESTINATION.test(destination);

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export const destinationSchema = z
  .string()
  .max(350)
  .refine((v) => isHttpUrl(v) || isFunctionDestination(v), 'must be an http(s) URL or a function ARN (arn:aws:lambda:<region>:<account>:function:<name>)');
