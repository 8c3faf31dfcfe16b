/**
 * MESA's teacher under `model.fit`: a copy of the student whose weights follow the EMA, and a
 * training model that records each batch's input so the loss can run the teacher on it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** What a teacher needs to know of the current batch: its input, recorded by the training model. */
export interface TeacherLink {
  readonly student: tfl.LayersModel;
  readonly teacher: tfl.LayersModel;
  /** The last batch input the training model saw (valid during its forward pass and loss). */
  input: tf.Tensor | null;
  /** Teacher forward passes so far. */
  forwards: number;
}

/** An identity layer that hands the batch it sees to `record` (not serializable: save the student, not the training model). */
class InputRecorder extends tfl.layers.Layer {
  static className = 'FlatminMesaInputRecorder';
  constructor(private readonly record: (x: tf.Tensor) => void) {
    super({});
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    this.record(x);
    return x;
  }
  override computeOutputShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return shape;
  }
}

/** A fresh model of the student's architecture (its own variables), starting from the student's weights. */
function copyOf(student: tfl.LayersModel): tfl.LayersModel {
  const ctor = student.constructor as typeof tfl.LayersModel;
  const copy = ctor.fromConfig(ctor, student.getConfig() as tf.serialization.ConfigDict) as tfl.LayersModel;
  copy.setWeights(student.getWeights());
  // Left trainable so that its `weights` list in the student's order (trainable first); it is never
  // compiled, and its variables are in no optimizer's list.
  return copy;
}

/** Build the teacher and the training model for `student` (a single-input model that outputs logits). */
export function buildTeacher(student: tfl.LayersModel): { link: TeacherLink; model: tfl.LayersModel } {
  const teacher = copyOf(student);
  const link: TeacherLink = { student, teacher, input: null, forwards: 0 };
  const shape = student.inputs[0]!.shape.slice(1) as number[];
  const input = tfl.input({ shape, dtype: student.inputs[0]!.dtype });
  const recorded = new InputRecorder((x) => {
    link.input = x;
  }).apply(input) as tfl.SymbolicTensor;
  const output = student.apply(recorded) as tfl.SymbolicTensor;
  return { link, model: tfl.model({ inputs: input, outputs: output }) };
}

/** The teacher's logits for the recorded batch (inference mode: BatchNorm uses its moving statistics). */
export function teacherLogits(link: TeacherLink): tf.Tensor {
  if (link.input === null) throw new Error('no batch recorded');
  link.forwards += 1;
  return link.teacher.apply(link.input, { training: false }) as tf.Tensor;
}

/**
 * After an averager update: the teacher's weights become the new averages (shared, no copy), an
 * average that is not finite (a step the optimizer will skip) keeping the teacher's previous value;
 * weights that are not averaged (BatchNorm moving statistics) are copied from the student.
 */
export function syncTeacher(link: TeacherLink, averages: Readonly<Record<string, tf.Tensor>>): void {
  const studentWeights = link.student.weights;
  const teacherWeights = link.teacher.weights;
  tf.tidy(() => {
    studentWeights.forEach((weight, i) => {
      const from = weight.read() as tf.Variable;
      const to = teacherWeights[i]!.read() as tf.Variable;
      const average = averages[from.name];
      if (average === undefined) {
        to.assign(from);
        return;
      }
      to.assign(tf.where(tf.isFinite(average), average, to));
    });
  });
}
