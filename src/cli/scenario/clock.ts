import { VirtualClock } from '../../model/clock.js';

/**
 * The scenarios' virtual clock: a VirtualClock whose next due time
 * (`nextDue()`, from its sorted timer list) the harness steps to, letting
 * the loopback sockets settle before time moves on (a 50 ms coalesced
 * control round then runs 50 ms after its trigger, not at the next whole
 * second).
 */
export class SteppingClock extends VirtualClock {}
