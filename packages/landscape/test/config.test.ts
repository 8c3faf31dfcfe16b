import * as tf from '@tensorflow/tfjs-core';
import { type Refusal, runRefusalTable } from '@flatmin/test-kit';
import { flatness, hessianEigenvalue, hessianTrace, lineLandscape, modelObjective, plotLine, plotSurface, sharpness, surfaceLandscape } from '../src/index.js';
import { variable } from './helpers.js';

const w = variable([1, 2]);
const loss = () => tf.sum(tf.square(w)) as tf.Scalar;
type Call = (options: unknown) => unknown;
const measures: Record<string, Call> = {
  flatness: (o) => flatness(loss, [w], o as never),
  sharpness: (o) => sharpness(loss, [w], o as never),
  hessianEigenvalue: (o) => hessianEigenvalue(loss, [w], o as never),
  hessianTrace: (o) => hessianTrace(loss, [w], o as never),
  lineLandscape: (o) => lineLandscape(loss, [w], o as never),
  surfaceLandscape: (o) => surfaceLandscape(loss, [w], o as never),
};
const row = (name: string, options: unknown, key: string, message: RegExp): Refusal => ({
  title: `${name}(${JSON.stringify(options) ?? String(options)}) → ${key}`,
  call: () => measures[name]!(options),
  error: 'FlatminConfigError',
  key,
  message,
});

const rows: Refusal[] = [
  ...Object.keys(measures).flatMap((name) => [
    row(name, 0.5, 'options', new RegExp(`${name}.*an options object`)),
    row(name, null, 'options', /an options object/),
    row(name, { seed: -1 }, 'seed', /integer >= 0/),
    row(name, { seed: 1.5 }, 'seed', /integer >= 0/),
    row(name, { seed: null }, 'seed', /integer/),
    row(name, { sed: 1 }, 'sed', /known keys/),
  ]),
  row('flatness', { samples: 0 }, 'samples', />= 1/),
  row('flatness', { radius: 0 }, 'radius', /> 0/),
  row('flatness', { radius: Number.NaN }, 'radius', /finite/),
  row('flatness', { normalization: 'row' }, 'normalization', /'filter', 'layer', 'global', 'none'/),
  row('flatness', { biases: 'ignore' }, 'biases', /'filter', 'zero', 'weights'/),
  row('flatness', { onProgress: 1 }, 'onProgress', /function/),
  row('sharpness', { rho: -0.1 }, 'rho', /> 0/),
  row('sharpness', { steps: 0 }, 'steps', />= 1/),
  row('sharpness', { stepSize: 0 }, 'stepSize', /> 0/),
  row('sharpness', { adaptive: 'yes' }, 'adaptive', /true or false/),
  row('sharpness', { eta: -1 }, 'eta', />= 0/),
  row('sharpness', { granularity: 'row' }, 'granularity', /'element', 'filter'/),
  row('sharpness', { init: 'zero' }, 'init', /'gradient', 'random'/),
  row('hessianEigenvalue', { iterations: 0 }, 'iterations', />= 1/),
  row('hessianEigenvalue', { tolerance: -1 }, 'tolerance', />= 0/),
  row('hessianEigenvalue', { hvp: 'forward' }, 'hvp', /'auto', 'exact', 'finite-difference'/),
  row('hessianEigenvalue', { step: 0 }, 'step', /> 0/),
  row('hessianTrace', { samples: 2.5 }, 'samples', /integer/),
  row('hessianTrace', { step: 2 }, 'step', /<= 1/),
  row('lineLandscape', { steps: 1 }, 'steps', />= 2/),
  row('lineLandscape', { range: [1, -1] }, 'range', /min < max/),
  row('lineLandscape', { range: [0, Number.POSITIVE_INFINITY] }, 'range', /finite/),
  row('lineLandscape', { direction: [tf.zeros([3])] }, 'direction', /tensors with the variables' shapes/),
  row('lineLandscape', { to: [tf.zeros([2])], normalization: 'filter' }, 'normalization', /'none' with `to`/),
  row('lineLandscape', { to: [tf.zeros([2])], direction: [tf.zeros([2])] }, 'direction', /not both/),
  row('lineLandscape', { keepDirection: 1 }, 'keepDirection', /true or false/),
  row('surfaceLandscape', { steps: 1 }, 'steps', />= 2/),
  row('surfaceLandscape', { orthogonalize: 'no' }, 'orthogonalize', /true or false/),
  row('surfaceLandscape', { directions: [[tf.zeros([2])]] }, 'directions', /a pair/),
  { title: 'a loss that is not a function', call: () => flatness(1 as never, [w]), error: 'FlatminConfigError', key: 'loss', message: /function/ },
  { title: 'no variables', call: () => flatness(loss, []), error: 'FlatminConfigError', key: 'variables', message: /non-empty array of tf.Variable/ },
  { title: 'a tensor among the variables', call: () => flatness(loss, [tf.zeros([2]) as never]), error: 'FlatminConfigError', key: 'variables', message: /tf.Variable/ },
  { title: 'a variable twice', call: () => flatness(loss, [w, w]), error: 'FlatminConfigError', key: 'variables', message: /once/ },
  { title: 'plotLine: no lines', call: () => plotLine({}), error: 'FlatminConfigError', key: 'lines', message: /at least one line/ },
  { title: 'plotLine: a line of unequal lengths', call: () => plotLine({ sgd: { s: [0, 1], loss: [1] } }), error: 'FlatminConfigError', key: 'sgd', message: /equal lengths/ },
  { title: 'plotLine: width 10', call: () => plotLine({ a: { s: [0, 1], loss: [1, 2] } }, { width: 10 }), error: 'FlatminConfigError', key: 'width', message: />= 100/ },
  { title: 'plotLine: scale 0', call: () => plotLine({ a: { s: [0, 1], loss: [1, 2] } }, { scale: 0 }), error: 'FlatminConfigError', key: 'scale', message: />= 0.25/ },
  { title: 'plotLine: an unknown key', call: () => plotLine({ a: { s: [0, 1], loss: [1, 2] } }, { colour: 'red' } as never), error: 'FlatminConfigError', key: 'colour', message: /known keys/ },
  { title: 'plotSurface: levels 1', call: () => plotSurface({ a: [0, 1], b: [0, 1], loss: [[1, 2], [3, 4]] }, { levels: 1 }), error: 'FlatminConfigError', key: 'levels', message: />= 2/ },
  { title: 'plotSurface: levels 101', call: () => plotSurface({ a: [0, 1], b: [0, 1], loss: [[1, 2], [3, 4]] }, { levels: 101 }), error: 'FlatminConfigError', key: 'levels', message: /<= 100/ },
  { title: 'plotSurface: fontFiles not a list', call: () => plotSurface({ a: [0, 1], b: [0, 1], loss: [[1, 2], [3, 4]] }, { fontFiles: 'a.ttf' as never }), error: 'FlatminConfigError', key: 'fontFiles', message: /array/ },
  { title: 'modelObjective: not a model', call: () => modelObjective({} as never, { x: tf.zeros([1]), y: tf.zeros([1]) }), error: 'FlatminConfigError', key: 'model', message: /tfjs-layers model/ },
  {
    title: 'modelObjective: an unknown loss name',
    call: () => modelObjective({ trainableWeights: [], apply: () => tf.zeros([1]) }, { x: tf.zeros([1]), y: tf.zeros([1]), loss: 'hinge' as never }),
    error: 'FlatminConfigError',
    key: 'loss',
    message: /'meanSquaredError'/,
  },
];

runRefusalTable('bad arguments are refused at the call, by name', rows);
