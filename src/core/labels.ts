import { LABELS, type Label } from './types.js';

/**
 * Published names (Kaggle / makeml, the Face-Mask-Detection folders) and ours.
 * Keys are compared after lower-casing and turning '-' and ' ' into '_'.
 */
const ALIASES: Record<string, Label> = {
  mask: 'mask',
  with_mask: 'mask',
  masked: 'mask',
  no_mask: 'no_mask',
  without_mask: 'no_mask',
  nomask: 'no_mask',
  unmasked: 'no_mask',
  mask_incorrect: 'mask_incorrect',
  mask_weared_incorrect: 'mask_incorrect',
  mask_worn_incorrectly: 'mask_incorrect',
  incorrect_mask: 'mask_incorrect',
  incorrect: 'mask_incorrect',
};

export function normalizeLabel(name: string): Label | undefined {
  return ALIASES[name.trim().toLowerCase().replace(/[-\s]+/g, '_')];
}

export function labelIndex(label: Label): number {
  return LABELS.indexOf(label);
}

export function isLabel(value: unknown): value is Label {
  return typeof value === 'string' && (LABELS as readonly string[]).includes(value);
}

/** The light each label shows at the door: the one label-to-light map. */
export const LIGHT_FOR: Record<Label, 'green' | 'red' | 'amber'> = { mask: 'green', no_mask: 'red', mask_incorrect: 'amber' };
