/**
 * Rebuild a schedule from its JSON description.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkChoice } from '@flatmin/core/kit';
import { cosineWithWarmup } from './cosine-with-warmup.js';
import { linearDecay } from './linear-decay.js';
import type { DescribedSchedule, ScheduleDescription } from './schedule.js';
import { stepDecay } from './step-decay.js';

const WHERE = 'scheduleFromDescription';

/**
 * The schedule a {@link ScheduleDescription} describes (`schedule.description`, possibly
 * through JSON): the same rate at every step. The config is checked as by the factory.
 *
 * @example
 * ```ts
 * const saved = JSON.stringify(cosineWithWarmup({ peak: 0.1, warmupSteps: 10, totalSteps: 100 }).description);
 * const schedule = scheduleFromDescription(JSON.parse(saved));
 * schedule(55); // 0.05
 * ```
 */
export function scheduleFromDescription(description: ScheduleDescription): DescribedSchedule {
  if (typeof description !== 'object' || description === null || Array.isArray(description)) {
    throw new FlatminConfigError('description', description, "an object { name, config } (a schedule's .description)", WHERE);
  }
  const name = checkChoice('name', description.name, ['cosineWithWarmup', 'stepDecay', 'linearDecay'], WHERE);
  const config = description.config as never;
  if (typeof config !== 'object' || config === null) throw new FlatminConfigError('config', config, 'the options object of the schedule', WHERE);
  switch (name) {
    case 'cosineWithWarmup':
      return cosineWithWarmup(config);
    case 'stepDecay':
      return stepDecay(config);
    case 'linearDecay':
      return linearDecay(config);
  }
}
