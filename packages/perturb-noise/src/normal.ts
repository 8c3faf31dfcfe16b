/**
 * The noise generators' standard-normal draws, from the component kit: {@link fillNormal} fills a
 * host buffer from a seed (sfc32 bits, Marsaglia and Tsang's ziggurat), {@link normalDraws} makes
 * one tensor of draws per variable of a step from one seed (on the wasm backend filled in place on
 * its heap, elsewhere one host buffer uploaded once per variable; the same values everywhere).
 *
 * @module
 */
export { fillNormal, normalDraws } from '@flatmin/core/kit';
