/**
 * What goes on the leave-notice channel (`{prefix:cluster}:leave-notices`): before a member is marked
 * draining, someone says it is about to drain (`noticeDrain`: the member itself on SIGTERM, or
 * whoever asks for the drain), and each other member answers once it has subscribed to the symbols
 * it gains (`Membership.noticeLeaveReady`, from `Worker.prepareForLeave`).
 */
import { z } from 'zod';

export const LEAVE_NOTICE = z.union([
  z.object({ leaving: z.string().min(1) }).strict(),
  z.object({ ready: z.string().min(1), for: z.string().min(1) }).strict(),
]);
export type LeaveNotice = z.infer<typeof LEAVE_NOTICE>;

/** The notice in `message`; `undefined` for anything else (the channel is not trusted). */
export function parseLeaveNotice(message: string): LeaveNotice | undefined {
  try {
    return LEAVE_NOTICE.parse(JSON.parse(message));
  } catch {
    return undefined;
  }
}
